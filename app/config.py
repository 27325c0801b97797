"""Typed settings, read once from the environment and `.env`, validated at startup."""

import ipaddress
import os
import re
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# Each accepted URL scheme and the driver this service talks to it with.
_DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "mariadb": "mariadb+pymysql",
    "mariadb+pymysql": "mariadb+pymysql",
    "mysql": "mariadb+pymysql",
    "mysql+pymysql": "mariadb+pymysql",
}


def normalise_database_url(raw: str) -> str:
    """Check a database URL and spell it with the driver this service uses."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError("not a URL of the form scheme://[user@host[:port]]/database") from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        schemes = ", ".join(sorted({name.split("+")[0] for name in _DRIVERS}))
        raise ValueError(f"unknown scheme {url.drivername!r}; use one of: {schemes}")
    url = url.set(drivername=driver)
    if driver != "sqlite" and not url.database:
        raise ValueError("names no database (expected scheme://user@host:port/database)")
    if driver == "mariadb+pymysql" and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url.render_as_string(hide_password=False)


DatabaseUrl = Annotated[str, AfterValidator(normalise_database_url)]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
]
Environment = Literal["development", "test", "staging", "production"]
WritePolicy = Literal["anyone", "signed_in", "owner"]
ReadPolicy = Literal["anyone", "signed_in"]
Signup = Literal["open", "closed"]
# The key that signs access tokens in development and tests when JWT_SECRET is unset: the
# same in every worker, so that a token one worker issued is good in the others. Published
# here, so it protects nothing: anywhere else JWT_SECRET must be set (README, "Users").
DEVELOPMENT_JWT_SECRET = "heroes-development-key-not-a-secret-0123456789"  # noqa: S105
_KEYLESS_ENVIRONMENTS = frozenset({"development", "test"})
MigrateOnStart = Annotated[
    Literal["auto", "true", "false"],
    BeforeValidator(lambda value: value.lower() if isinstance(value, str) else value),
]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _check_origin(origin: str) -> str:
    if origin != "*" and not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
        raise ValueError(f"{origin!r} is not an origin like https://example.com[:port] or *")
    return origin


def check_redis_url(raw: str) -> str:
    if not re.match(r"rediss?://", raw):
        raise ValueError("not a URL of the form redis://host:port/db")
    return raw


def _check_header_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9-]+", name):
        raise ValueError(f"{name!r} is not an HTTP header name")
    return name.lower()


def _check_forwarder(address: str) -> str:
    if address == "*":
        # uvicorn believing every hop takes the first X-Forwarded-For address, which the
        # client writes: it would choose its own address, and its own rate limit.
        raise ValueError("* would let every client choose its own address: name the proxies")
    try:
        ipaddress.ip_network(address, strict=False)
    except ValueError:
        raise ValueError(f"{address!r} is not an IP address or a network (10.0.0.0/8)") from None
    return address


def _check_host(host: str) -> str:
    """A host name or address as the Host header names it (without the port), `*`, or
    `*.example.com` for every subdomain of example.com, as Starlette allows."""
    pattern = r"(\*|(\*\.)?[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*|\[[0-9A-Fa-f:.]+\])"
    if not re.fullmatch(pattern, host):
        raise ValueError(f"{host!r} is not a host name like example.com, *.example.com or *")
    return host.lower()


# A comma-separated list in the environment (pydantic-settings would expect JSON).
Origins = Annotated[
    list[Annotated[str, AfterValidator(_check_origin)]], NoDecode, BeforeValidator(_split_commas)
]
Forwarders = Annotated[
    list[Annotated[str, AfterValidator(_check_forwarder)]],
    NoDecode,
    BeforeValidator(_split_commas),
]
Hosts = Annotated[
    list[Annotated[str, AfterValidator(_check_host)]], NoDecode, BeforeValidator(_split_commas)
]
RedisUrl = Annotated[str, AfterValidator(check_redis_url)]
HeaderName = Annotated[str, AfterValidator(_check_header_name)]


class SettingsError(ValueError):
    """A setting has a value the service cannot start with; the message is one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    database_url: DatabaseUrl = "sqlite:///./heroes.db"
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    db_max_overflow: int = Field(default=10, ge=0, le=1000)
    db_pool_timeout: float = Field(default=5.0, gt=0, le=300)
    db_connect_timeout: int = Field(default=3, ge=1, le=300)
    db_statement_timeout: float = Field(default=30.0, gt=0, le=3600)
    db_pool_pre_ping: bool = True
    sqlite_busy_timeout: float = Field(default=10.0, gt=0, le=300)
    sqlite_reader_threads: int = Field(default=4, ge=1, le=64)
    worker_threads: int = Field(default=20, ge=1, le=1000)
    max_body_size: int = Field(default=1024 * 1024, ge=1024)
    # A request's head: each header line (and the request target), and all of it together.
    max_header_size: int = Field(default=8 * 1024, ge=1024, le=1024 * 1024)
    max_request_head_size: int = Field(default=32 * 1024, ge=4 * 1024, le=16 * 1024 * 1024)
    require_if_match: bool = False
    # Retry-safe writes: how long a key's answer is kept, and whether a POST must send one.
    idempotency_key_ttl: int = Field(default=86_400, ge=1, le=366 * 86_400)
    require_idempotency_key: bool = False
    # The change feed: seconds a change is kept for followers (a week), and how often a
    # worker reads the clock while a follower waits (README, "The change feed").
    changes_retention: int = Field(default=7 * 86_400, ge=60, le=3660 * 86_400)
    changes_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    # Seconds of silence after which an event stream sends a heartbeat comment.
    changes_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    log_level: LogLevel = "INFO"
    environment: Environment = "development"
    db_migrate_on_start: MigrateOnStart = "auto"

    # Running in production (README, "Running in production").
    web_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=256)
    graceful_timeout: int = Field(default=30, ge=1, le=3600)
    # A client that stalls: seconds for a request's head to arrive (`heroes serve`), and
    # for its whole body once the app reads it (app/http/timeouts.py).
    client_header_timeout: float = Field(default=10.0, gt=0, le=300)
    client_body_timeout: float = Field(default=10.0, gt=0, le=300)
    # A client that reads nothing of an answer for this long is let go (app/http/server.py).
    client_send_timeout: float = Field(default=10.0, gt=0, le=3600)
    rate_limit_per_second: float = Field(default=0.0, ge=0, le=1_000_000)
    rate_limit_burst: int = Field(default=100, ge=1, le=1_000_000)
    rate_limit_client_header: HeaderName | None = None
    # Peers whose X-Forwarded-For and X-Forwarded-Proto `heroes serve` believes; none by default.
    forwarded_allow_ips: Forwarders = []
    redis_url: RedisUrl | None = None
    redis_key_prefix: str = Field(default="heroes:", max_length=100)
    redis_timeout: float = Field(default=0.25, gt=0, le=10)
    cors_allow_origins: Origins = []
    allowed_hosts: Hosts = ["*"]
    security_headers: bool = True
    # Signs the list's paging cursors (app/kit/listing/cursors.py explains the default).
    cursor_secret: SecretStr | None = Field(default=None, min_length=16)

    # Users, sign-in and who may write (README, "Users and sign-in").
    write_policy: WritePolicy = "anyone"
    read_policy: ReadPolicy = "anyone"
    signup: Signup = "open"
    jwt_secret: SecretStr | None = Field(default=None, min_length=32)
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    # Failed sign-ins allowed per account and client address in a window, then 429.
    sign_in_attempts: int = Field(default=10, ge=1, le=10_000)
    sign_in_window_minutes: int = Field(default=15, ge=1, le=24 * 60)

    @model_validator(mode="after")
    def _every_thread_can_get_a_connection(self) -> Self:
        # A thread that waits for a pooled connection while the threads holding them wait
        # for the thread pool is how the tutorial's app stalls under load.
        if self.worker_threads > self.db_pool_size + self.db_max_overflow:
            raise ValueError(
                "WORKER_THREADS must not exceed DB_POOL_SIZE + DB_MAX_OVERFLOW "
                f"({self.worker_threads} > {self.db_pool_size} + {self.db_max_overflow})"
            )
        return self

    @model_validator(mode="after")
    def _a_header_line_fits_in_the_head(self) -> Self:
        if self.max_header_size > self.max_request_head_size:
            raise ValueError(
                "MAX_HEADER_SIZE must not exceed MAX_REQUEST_HEAD_SIZE "
                f"({self.max_header_size} > {self.max_request_head_size})"
            )
        return self

    @model_validator(mode="after")
    def _tokens_are_signed_with_a_secret_outside_development(self) -> Self:
        if self.jwt_secret is None and self.environment not in _KEYLESS_ENVIRONMENTS:
            raise ValueError(
                f"JWT_SECRET must be set (32 characters or more) when ENVIRONMENT is "
                f"{self.environment}: it signs the access tokens"
            )
        return self

    @property
    def signing_key(self) -> str:
        """The key access tokens are signed with: JWT_SECRET, or in development and tests
        the published development key."""
        if self.jwt_secret is None:
            return DEVELOPMENT_JWT_SECRET
        return self.jwt_secret.get_secret_value()

    @property
    def idempotency_lease(self) -> float:
        """Seconds a write with an Idempotency-Key may run before its claim counts as
        abandoned (its worker died) and a retry may take it over: the longest one write
        can wait for a connection or SQLite's lock, connect, and run."""
        return (
            self.db_pool_timeout
            + self.db_connect_timeout
            + self.sqlite_busy_timeout
            + self.db_statement_timeout
        )

    @property
    def migrate_on_start(self) -> bool:
        """`auto`: the embedded SQLite migrates itself; a server database is migrated as
        a deploy step, before the new code starts."""
        if self.db_migrate_on_start == "auto":
            return make_url(self.database_url).get_backend_name() == "sqlite"
        return self.db_migrate_on_start == "true"


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad setting by its environment variable."""
    problems = []
    for item in error.errors(include_url=False):
        name = "_".join(str(part) for part in item["loc"]).upper()
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return "invalid settings: " + "; ".join(problems)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and `.env`, raising SettingsError on a bad value."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # values are validated here
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
