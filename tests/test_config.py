"""Settings: one typed object from the environment and `.env`, refused in one line if bad."""

import os
import subprocess
from pathlib import Path

import pytest

from app.config import DEVELOPMENT_JWT_SECRET, SettingsError, load_settings
from tests.conftest import SETTING_NAMES, run_python_in
from tests.service_process import REPO_ROOT, free_port

# (environment variable, bad value): each must stop startup with a line naming the variable.
BAD_VALUES = [
    ("DATABASE_URL", "not a url"),
    ("DATABASE_URL", ""),
    ("DATABASE_URL", "oracle://x/y"),
    ("DATABASE_URL", "postgresql://user@host:5432"),
    ("DATABASE_URL", "postgresql://user@host:notaport/db"),
    ("DB_POOL_SIZE", "-1"),
    ("DB_POOL_SIZE", "0"),
    ("DB_POOL_SIZE", "many"),
    ("DB_MAX_OVERFLOW", "-1"),
    ("DB_POOL_TIMEOUT", "0"),
    ("DB_POOL_TIMEOUT", "-5"),
    ("DB_CONNECT_TIMEOUT", "0"),
    ("DB_STATEMENT_TIMEOUT", "0"),
    ("DB_POOL_PRE_PING", "maybe"),
    ("SQLITE_BUSY_TIMEOUT", "0"),
    ("SQLITE_READER_THREADS", "0"),
    ("WORKER_THREADS", "0"),
    ("WORKER_THREADS", "21"),  # more than DB_POOL_SIZE + DB_MAX_OVERFLOW = 10 + 10
    ("MAX_BODY_SIZE", "10"),
    ("MAX_BODY_SIZE", "-1"),
    ("LOG_LEVEL", "LOUD"),
    ("ENVIRONMENT", "prod"),
    ("WEB_CONCURRENCY", "0"),
    ("GRACEFUL_TIMEOUT", "0"),
    ("CLIENT_HEADER_TIMEOUT", "0"),
    ("CLIENT_BODY_TIMEOUT", "-1"),
    ("CLIENT_BODY_TIMEOUT", "301"),
    ("CLIENT_SEND_TIMEOUT", "0"),
    ("CHANGES_HEARTBEAT_SECONDS", "0"),
    ("CHANGES_HEARTBEAT_SECONDS", "301"),
    ("RATE_LIMIT_PER_SECOND", "-1"),
    ("RATE_LIMIT_BURST", "0"),
    ("RATE_LIMIT_CLIENT_HEADER", "X Forwarded"),
    ("FORWARDED_ALLOW_IPS", "proxy.internal"),
    ("FORWARDED_ALLOW_IPS", "*"),
    ("FORWARDED_ALLOW_IPS", "10.0.0.1, *"),
    ("REDIS_URL", "http://127.0.0.1:6379/0"),
    ("REDIS_TIMEOUT", "0"),
    ("CORS_ALLOW_ORIGINS", "example.com"),
    ("MAX_HEADER_SIZE", "100"),
    ("MAX_HEADER_SIZE", "40000"),  # more than MAX_REQUEST_HEAD_SIZE = 32768
    ("MAX_REQUEST_HEAD_SIZE", "1024"),
    ("ALLOWED_HOSTS", "https://example.com"),
    ("ALLOWED_HOSTS", "example.*"),
    ("SECURITY_HEADERS", "sometimes"),
    ("REQUIRE_IF_MATCH", "maybe"),
    ("DB_MIGRATE_ON_START", "sometimes"),
    ("WRITE_POLICY", "admins"),
    ("READ_POLICY", "owner"),
    ("SIGNUP", "invite"),
    ("JWT_SECRET", "too short"),
    ("ACCESS_TOKEN_MINUTES", "0"),
    ("REFRESH_TOKEN_DAYS", "0"),
    ("SIGN_IN_ATTEMPTS", "0"),
    ("SIGN_IN_WINDOW_MINUTES", "0"),
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting in the environment, and a working directory with no `.env` in it."""
    for name in list(os.environ):
        if name.upper() in SETTING_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_one_line_naming(error: SettingsError, name: str) -> None:
    message = str(error)
    assert message.startswith("invalid settings: "), message
    assert len(message.splitlines()) == 1, message
    assert name in message, message


def test_defaults_are_the_documented_ones() -> None:
    settings = load_settings()

    assert settings.database_url == "sqlite:///./heroes.db"
    assert settings.db_pool_size == 10
    assert settings.db_max_overflow == 10
    assert settings.db_pool_timeout == 5.0
    assert settings.db_connect_timeout == 3
    assert settings.db_statement_timeout == 30.0
    assert settings.db_pool_pre_ping is True
    assert settings.sqlite_busy_timeout == 10.0
    assert settings.sqlite_reader_threads == 4
    assert settings.worker_threads == 20
    assert settings.max_body_size == 1024 * 1024
    assert settings.log_level == "INFO"
    assert settings.environment == "development"
    assert settings.graceful_timeout == 30
    # A client that stalls is let go well before 30 s (app/http/timeouts.py).
    assert (settings.client_header_timeout, settings.client_body_timeout) == (10.0, 10.0)
    assert settings.client_send_timeout == 10.0
    assert settings.changes_heartbeat_seconds == 15.0  # below nginx's 60 s read timeout
    assert settings.rate_limit_per_second == 0  # off
    assert settings.rate_limit_burst == 100
    assert settings.rate_limit_client_header is None
    assert settings.forwarded_allow_ips == []  # uvicorn believes no peer's X-Forwarded-For
    assert settings.redis_url is None
    assert (settings.redis_key_prefix, settings.redis_timeout) == ("heroes:", 0.25)
    assert settings.cors_allow_origins == []
    assert settings.security_headers is True
    assert settings.require_if_match is False
    assert settings.db_migrate_on_start == "auto"
    assert settings.cursor_secret is None
    assert (settings.write_policy, settings.read_policy, settings.signup) == (
        "anyone",
        "anyone",
        "open",
    )
    assert settings.jwt_secret is None
    assert (settings.access_token_minutes, settings.refresh_token_days) == (15, 30)
    assert (settings.sign_in_attempts, settings.sign_in_window_minutes) == (10, 15)


@pytest.mark.parametrize(("cpus", "workers"), [(3, 3), (None, 1)])
def test_web_concurrency_defaults_to_the_cpu_count_or_one_when_unknown(
    monkeypatch: pytest.MonkeyPatch, cpus: int | None, workers: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)

    assert load_settings().web_concurrency == workers


def test_every_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "DATABASE_URL": "postgres://app@db.internal:6432/heroes",
        "DB_POOL_SIZE": "7",
        "DB_MAX_OVERFLOW": "3",
        "DB_POOL_TIMEOUT": "2.5",
        "DB_CONNECT_TIMEOUT": "9",
        "DB_STATEMENT_TIMEOUT": "12.5",
        "DB_POOL_PRE_PING": "false",
        "SQLITE_BUSY_TIMEOUT": "4",
        "SQLITE_READER_THREADS": "2",
        "WORKER_THREADS": "10",
        "MAX_BODY_SIZE": "2048",
        "REQUIRE_IF_MATCH": "true",
        "LOG_LEVEL": "debug",
        "ENVIRONMENT": "production",
        "WEB_CONCURRENCY": "3",
        "GRACEFUL_TIMEOUT": "15",
        "CLIENT_HEADER_TIMEOUT": "4",
        "CLIENT_BODY_TIMEOUT": "2.5",
        "CLIENT_SEND_TIMEOUT": "3",
        "RATE_LIMIT_PER_SECOND": "2.5",
        "RATE_LIMIT_BURST": "20",
        "RATE_LIMIT_CLIENT_HEADER": "X-Forwarded-For",
        "FORWARDED_ALLOW_IPS": "10.0.0.0/8, 192.0.2.1",
        "REDIS_URL": "redis://:secret@cache.internal:6379/2",
        "REDIS_KEY_PREFIX": "blue:",
        "REDIS_TIMEOUT": "0.5",
        "CORS_ALLOW_ORIGINS": "https://a.example, http://b.example:8080",
        "SECURITY_HEADERS": "false",
        "DB_MIGRATE_ON_START": "TRUE",
        "CURSOR_SECRET": "sixteen or more characters",
        "MAX_HEADER_SIZE": "4096",
        "MAX_REQUEST_HEAD_SIZE": "16384",
        "ALLOWED_HOSTS": "api.example.com, *.example.org",
        "IDEMPOTENCY_KEY_TTL": "3600",
        "REQUIRE_IDEMPOTENCY_KEY": "true",
        "CHANGES_RETENTION": "86400",
        "CHANGES_POLL_SECONDS": "0.25",
        "CHANGES_HEARTBEAT_SECONDS": "5",
        "WRITE_POLICY": "owner",
        "READ_POLICY": "signed_in",
        "SIGNUP": "closed",
        "JWT_SECRET": "thirty-two characters or more, please",
        "ACCESS_TOKEN_MINUTES": "5",
        "REFRESH_TOKEN_DAYS": "7",
        "SIGN_IN_ATTEMPTS": "4",
        "SIGN_IN_WINDOW_MINUTES": "30",
    }
    assert set(values) == set(SETTING_NAMES)
    for name, value in values.items():
        monkeypatch.setenv(name, value)

    settings = load_settings()

    assert settings.database_url == "postgresql+psycopg://app@db.internal:6432/heroes"
    assert (settings.db_pool_size, settings.db_max_overflow) == (7, 3)
    assert (settings.db_pool_timeout, settings.db_connect_timeout) == (2.5, 9)
    assert settings.db_statement_timeout == 12.5
    assert settings.db_pool_pre_ping is False
    assert settings.sqlite_busy_timeout == 4.0
    assert settings.sqlite_reader_threads == 2
    assert settings.worker_threads == 10
    assert settings.max_body_size == 2048
    assert settings.require_if_match is True
    assert (settings.idempotency_key_ttl, settings.require_idempotency_key) == (3600, True)
    assert (settings.changes_retention, settings.changes_poll_seconds) == (86400, 0.25)
    assert settings.changes_heartbeat_seconds == 5.0
    assert settings.log_level == "DEBUG"
    assert settings.environment == "production"
    assert (settings.web_concurrency, settings.graceful_timeout) == (3, 15)
    assert (settings.client_header_timeout, settings.client_body_timeout) == (4.0, 2.5)
    assert settings.client_send_timeout == 3.0
    assert (settings.rate_limit_per_second, settings.rate_limit_burst) == (2.5, 20)
    assert settings.rate_limit_client_header == "x-forwarded-for"
    assert settings.forwarded_allow_ips == ["10.0.0.0/8", "192.0.2.1"]
    assert settings.redis_url == "redis://:secret@cache.internal:6379/2"
    assert (settings.redis_key_prefix, settings.redis_timeout) == ("blue:", 0.5)
    assert settings.cors_allow_origins == ["https://a.example", "http://b.example:8080"]
    assert settings.security_headers is False
    assert settings.db_migrate_on_start == "true"
    assert settings.cursor_secret is not None
    assert settings.cursor_secret.get_secret_value() == "sixteen or more characters"
    assert (settings.max_header_size, settings.max_request_head_size) == (4096, 16384)
    assert settings.allowed_hosts == ["api.example.com", "*.example.org"]
    assert (settings.write_policy, settings.read_policy, settings.signup) == (
        "owner",
        "signed_in",
        "closed",
    )
    assert settings.signing_key == "thirty-two characters or more, please"
    assert (settings.access_token_minutes, settings.refresh_token_days) == (5, 7)
    assert (settings.sign_in_attempts, settings.sign_in_window_minutes) == (4, 30)


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_outside_development_a_missing_jwt_secret_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", environment)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert_one_line_naming(raised.value, "JWT_SECRET")


@pytest.mark.parametrize("environment", ["development", "test"])
def test_in_development_tokens_are_signed_with_the_published_key(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", environment)

    assert load_settings().signing_key == DEVELOPMENT_JWT_SECRET


def test_production_without_jwt_secret_stops_serve_in_one_line() -> None:
    result = start(start_commands()["heroes serve"], REPO_ROOT, ENVIRONMENT="production")

    assert_stopped_with_one_line_naming(result, "JWT_SECRET")


def test_dotenv_in_the_working_directory_is_read(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text(
        "# a comment\nDATABASE_URL=mysql://app@127.0.0.1/heroes\nDB_POOL_SIZE=45\n"
        "LOG_LEVEL=warning\n",
        encoding="utf-8",
    )

    settings = load_settings()

    assert settings.database_url == "mariadb+pymysql://app@127.0.0.1/heroes?charset=utf8mb4"
    assert settings.db_pool_size == 45
    assert settings.log_level == "WARNING"
    assert settings.worker_threads == 20  # not in .env: the default


def test_environment_wins_over_dotenv(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_environment / ".env").write_text("DB_POOL_SIZE=45\nLOG_LEVEL=ERROR\n")
    monkeypatch.setenv("DB_POOL_SIZE", "60")

    settings = load_settings()

    assert settings.db_pool_size == 60
    assert settings.log_level == "ERROR"


@pytest.mark.parametrize(
    ("url", "setting", "migrates"),
    [
        ("sqlite:///./heroes.db", "auto", True),
        ("postgresql://u@h/db", "auto", False),
        ("mariadb://u@h/db", "auto", False),
        ("sqlite:///./heroes.db", "false", False),
        ("postgresql://u@h/db", "true", True),
    ],
)
def test_migrating_on_start_is_automatic_on_sqlite_only(
    url: str, setting: str, *, migrates: bool
) -> None:
    settings = load_settings(database_url=url, db_migrate_on_start=setting)

    assert settings.migrate_on_start is migrates


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("mysql://u@h:3306/db", "mariadb+pymysql://u@h:3306/db?charset=utf8mb4"),
        ("mariadb://u@h:3306/db", "mariadb+pymysql://u@h:3306/db?charset=utf8mb4"),
        ("mysql+pymysql://u@h/db", "mariadb+pymysql://u@h/db?charset=utf8mb4"),
        ("mariadb://u@h/db?charset=utf8mb4", "mariadb+pymysql://u@h/db?charset=utf8mb4"),
        ("sqlite:///./heroes.db", "sqlite:///./heroes.db"),
        ("sqlite:////var/lib/heroes.db", "sqlite:////var/lib/heroes.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_database_url_is_spelled_with_the_services_driver(raw: str, expected: str) -> None:
    assert load_settings(database_url=raw).database_url == expected


def test_mariadb_keeps_a_charset_it_is_given() -> None:
    url = load_settings(database_url="mariadb://u@h/db?charset=latin1").database_url

    assert url == "mariadb+pymysql://u@h/db?charset=latin1"


def test_password_reaches_the_driver() -> None:
    settings = load_settings(database_url="postgres://app:s3cret@h/db")

    assert settings.database_url == "postgresql+psycopg://app:s3cret@h/db"


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_bad_environment_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert_one_line_naming(raised.value, name)


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_bad_dotenv_value_is_one_line_naming_the_variable(
    clean_environment: Path, name: str, value: str
) -> None:
    (clean_environment / ".env").write_text(f"{name}={value}\n", encoding="utf-8")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert_one_line_naming(raised.value, name)


def test_bad_override_is_one_line_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(db_pool_size=-1)

    assert_one_line_naming(raised.value, "DB_POOL_SIZE")


def test_several_bad_values_are_all_named_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "oracle://x/y")
    monkeypatch.setenv("DB_POOL_SIZE", "-1")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    for name in ("DATABASE_URL", "DB_POOL_SIZE", "LOG_LEVEL"):
        assert_one_line_naming(raised.value, name)


@pytest.mark.parametrize(
    "url",
    [
        "oracle://app:hunter2@h/db",
        "postgresql://app:hunter2@h",
        "postgresql://app:hunter2@h:notaport/db",
    ],
)
def test_refused_database_url_does_not_show_its_password(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert_one_line_naming(raised.value, "DATABASE_URL")
    assert "hunter2" not in str(raised.value)


# The ways the service is started: the CLI, and what `uvicorn app.main:app` does (take
# the module's app), both directly and through uvicorn itself.
def start_commands() -> dict[str, list[str]]:
    return {
        "heroes serve": ["-m", "app", "serve", "--port", str(free_port())],
        "from app.main import app": ["-c", "from app.main import app"],
        "uvicorn app.main:app": ["-m", "uvicorn", "app.main:app", "--port", str(free_port())],
    }


def start(command: list[str], cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return run_python_in(cwd, *command, **settings)


def assert_stopped_with_one_line_naming(
    result: subprocess.CompletedProcess[str], name: str
) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].strip(), result.stderr
    assert name in lines[0], result.stderr


@pytest.mark.parametrize(
    "how", ["heroes serve", "from app.main import app", "uvicorn app.main:app"]
)
@pytest.mark.parametrize(
    ("name", "value"),
    [("DATABASE_URL", "not a url"), ("DATABASE_URL", "oracle://x/y"), ("DB_POOL_SIZE", "-1")],
)
def test_startup_with_a_bad_value_exits_with_one_line_naming_it(
    how: str, name: str, value: str
) -> None:
    result = start(start_commands()[how], REPO_ROOT, **{name: value})

    assert_stopped_with_one_line_naming(result, name)


def test_startup_with_a_bad_value_in_dotenv_exits_with_one_line_naming_it(
    clean_environment: Path,
) -> None:
    (clean_environment / ".env").write_text("DB_POOL_SIZE=-1\n", encoding="utf-8")

    result = start(start_commands()["heroes serve"], clean_environment)

    assert_stopped_with_one_line_naming(result, "DB_POOL_SIZE")
