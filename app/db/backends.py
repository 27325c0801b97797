"""Each database this service runs on, as one small class.

A backend owns what differs between databases: how its engine connects, how migrations
take turns on it, and which `Database` runs the service's statements on it (the fastest
safe way for that backend: bench/PROFILE.md). The URL's scheme picks the backend here, and
nowhere else; SQL that differs by dialect is left to SQLAlchemy's own per-dialect hooks.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from app.config import Settings
from app.db.database import Database
from app.db.schema import MigrationLockTimeout

MIGRATION_LOCK_NAME = "heroes_migrate"
MIGRATION_LOCK_KEY = 0x6865726F6573  # "heroes": PostgreSQL's advisory locks take a number
MIGRATION_LOCK_SECONDS = 60


class Backend(ABC):
    dialect: ClassVar[str]

    def __init__(self, settings: Settings, url: URL) -> None:
        self.settings = settings
        self.url = url

    @abstractmethod
    def create_engine(self) -> Engine:
        """The SQLAlchemy engine: migrations, commands, and the threaded `Database`."""

    @abstractmethod
    def create_database(self, engine: Engine) -> Database:
        """What the service's requests run their statements through."""

    @staticmethod
    @abstractmethod
    @contextmanager
    def migration_lock(connection: Connection) -> Iterator[None]:
        """Hold the lock that makes concurrent migrators take turns, on `connection`."""

    def _pooled(self) -> dict[str, Any]:
        settings = self.settings
        return {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_timeout": settings.db_pool_timeout,
        }


class SqliteBackend(Backend):
    """A SQLite file: reads on the event loop, writes on one writer thread (app/db/sqlite.py)."""

    dialect = "sqlite"

    def create_engine(self) -> Engine:
        # Named parameters (`:name`): the raw Database runs the compiled SQL itself.
        engine = create_engine(
            self.url,
            paramstyle="named",
            hide_parameters=True,  # a logged SQL error never shows what a client sent
            connect_args=self._connect_args(),
            **self._pool_arguments(),
        )
        event.listen(engine, "connect", configure_sqlite_connection)
        return engine

    def create_database(self, engine: Engine) -> Database:
        # Imported only when used: each backend's module costs every worker memory.
        from app.db.sqlite import SqliteDatabase  # noqa: PLC0415

        return SqliteDatabase(engine, self.settings)

    @staticmethod
    @contextmanager
    def migration_lock(connection: Connection) -> Iterator[None]:
        # The write lock, for the whole migration (SQLite's DDL is transactional).
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield

    def _connect_args(self) -> dict[str, Any]:
        # The threaded engine's connections serve any thread of the pool.
        return {"check_same_thread": False, "timeout": self.settings.sqlite_busy_timeout}

    def _pool_arguments(self) -> dict[str, Any]:
        return self._pooled()


class SqliteMemoryBackend(SqliteBackend):
    """SQLite in memory: one database that every connection shares, run on the thread pool."""

    def _pool_arguments(self) -> dict[str, Any]:
        # Every connection to ":memory:" would see its own empty database: share one.
        return {"poolclass": StaticPool}

    def create_database(self, engine: Engine) -> Database:
        from app.db.threaded import EngineDatabase  # noqa: PLC0415

        return EngineDatabase.of_engine(engine)


class PostgresBackend(Backend):
    """PostgreSQL: psycopg's async connections on the event loop (app/db/postgres.py)."""

    dialect = "postgresql"

    def create_engine(self) -> Engine:
        return _server_engine(self.url, self.connect_args(), self._pooled(), self.settings)

    def create_database(self, engine: Engine) -> Database:
        from app.db.postgres import PostgresDatabase  # noqa: PLC0415

        return PostgresDatabase(engine, self.settings, self.connect_args())

    def connect_args(self) -> dict[str, Any]:
        """The server's statement timeout, and the URL's own `options` kept beside it
        (connect_args replace them: one string, or a tuple when repeated). Times are
        written in UTC (as in a deleted row's fields that a change keeps, made JSON in SQL)."""
        milliseconds = round(self.settings.db_statement_timeout * 1000)
        given = self.url.query.get("options", ())
        options = [given] if isinstance(given, str) else list(given)
        options += [f"-c statement_timeout={milliseconds}", "-c TimeZone=UTC"]
        return {"connect_timeout": self.settings.db_connect_timeout, "options": " ".join(options)}

    @staticmethod
    @contextmanager
    def migration_lock(connection: Connection) -> Iterator[None]:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        yield


class MariadbBackend(Backend):
    """MariaDB: PyMySQL is synchronous, so statements run on the thread pool."""

    dialect = "mariadb"

    def create_engine(self) -> Engine:
        return _server_engine(self.url, self.connect_args(), self._pooled(), self.settings)

    def create_database(self, engine: Engine) -> Database:
        from app.db.threaded import EngineDatabase  # noqa: PLC0415

        return EngineDatabase.of_engine(engine)

    def connect_args(self) -> dict[str, Any]:
        """The server's own statement limit, `max_statement_time`, set on each connection:
        the server stops a statement that runs too long (a client that gave up would leave
        it running). PyMySQL's connect timeout ends once TCP connects; its socket timeouts
        bound the rest, the server's greeting included, later than the server's limit,
        which normally ends a slow statement first with a clean error: they are for a
        server that froze."""
        settings = self.settings
        silence = settings.db_statement_timeout + settings.db_connect_timeout
        return {
            "connect_timeout": settings.db_connect_timeout,
            "read_timeout": silence,
            "write_timeout": silence,
            "init_command": f"SET SESSION max_statement_time = {settings.db_statement_timeout}",
        }

    @staticmethod
    @contextmanager
    def migration_lock(connection: Connection) -> Iterator[None]:
        # Waiting for the lock may take longer than a statement may run.
        got = connection.execute(
            text("SET STATEMENT max_statement_time = 0 FOR SELECT GET_LOCK(:name, :seconds)"),
            {"name": MIGRATION_LOCK_NAME, "seconds": MIGRATION_LOCK_SECONDS},
        ).scalar()
        if got != 1:
            raise MigrationLockTimeout(
                f"another migration held the lock for {MIGRATION_LOCK_SECONDS} s"
            )
        try:
            yield
        finally:
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": MIGRATION_LOCK_NAME})


_BY_DIALECT: dict[str, type[Backend]] = {
    backend.dialect: backend for backend in (SqliteBackend, PostgresBackend, MariadbBackend)
}


def backend_for(settings: Settings) -> Backend:
    """The backend DATABASE_URL names (config.py spelt it with this service's driver)."""
    url = make_url(settings.database_url)
    if is_sqlite_memory(url):
        return SqliteMemoryBackend(settings, url)
    return _BY_DIALECT[url.get_backend_name()](settings, url)


def backend_class(dialect: str) -> type[Backend]:
    """The backend of a connection's dialect (MariaDB's dialect calls itself mysql)."""
    return _BY_DIALECT["mariadb" if dialect == "mysql" else dialect]


def create_db_engine(settings: Settings) -> Engine:
    return backend_for(settings).create_engine()


def is_sqlite_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _server_engine(
    url: URL, connect_args: dict[str, Any], pooled: dict[str, Any], settings: Settings
) -> Engine:
    return create_engine(
        url,
        hide_parameters=True,
        pool_pre_ping=settings.db_pool_pre_ping,
        connect_args=connect_args,
        **pooled,
    )


def configure_sqlite_connection(dbapi_connection: Any, _record: object = None) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers run beside the one writer; NORMAL sync is durable in WAL mode
        # against a crash of the process (the last commits can be lost on power loss).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
