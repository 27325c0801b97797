"""The database schema's version: Alembic migrations, configured and run in code.

The service (at startup), the `heroes migrate` command and the tests all come here, so the
migration environment is found wherever the package is installed.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(slug)s"
# The schema that `create_all` made before migrations existed is this revision's.
FIRST_REVISION = "0001"
_LOCK_NAME = "heroes_migrate"
_LOCK_KEY = 0x6865726F6573  # "heroes": PostgreSQL's advisory locks take a number
_LOCK_SECONDS = 60


class SchemaError(Exception):
    """The schema cannot be used or changed as asked; the message is one line."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, pointing at the migrations inside this package.

    With a connection, env.py migrates through it; without one, env.py connects to the
    DATABASE_URL of the service's settings.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships its migrations"  # noqa: S101
    return head


def known_revisions() -> set[str]:
    scripts = ScriptDirectory.from_config(alembic_config())
    return {script.revision for script in scripts.walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to `revision`; return the revisions before and after."""
    with _locked_connection(engine) as connection:
        _adopt_schema_made_before_migrations(connection)
        before = current_revision(connection)
        command.upgrade(alembic_config(connection), revision)
        return before, current_revision(connection)


def downgrade(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    """Downgrade to `revision` ("base" removes every table); return before and after."""
    with _locked_connection(engine) as connection:
        before = current_revision(connection)
        command.downgrade(alembic_config(connection), revision)
        return before, current_revision(connection)


def database_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    except SQLAlchemyError as error:
        raise SchemaError(describe_database_error(error)) from None


def verify_schema(engine: Engine) -> None:
    """Refuse a database whose schema is not the one this code was written for."""
    current, head = database_revision(engine), head_revision()
    if current == head:
        return
    if current is not None and current not in known_revisions():
        raise SchemaError(
            f"database schema is at {current}, newer than this code ({head}): deploy the "
            f'newer code, or run "heroes migrate downgrade {head}" with it'
        )
    raise SchemaError(
        f"database schema is at {current or 'none'}, the code needs {head}: "
        'run "heroes migrate upgrade"'
    )


def prepare_database(engine: Engine, *, migrate: bool) -> None:
    """At startup: bring the schema to the code's head, or check that it is there."""
    if migrate:
        upgrade(engine)
    else:
        verify_schema(engine)


def describe_database_error(error: SQLAlchemyError) -> str:
    """One line: what went wrong, in the driver's words (which never hold the password)."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines() or [""]
    what = "cannot reach the database" if _is_unreachable(error) else "database error"
    return f"{what}: {type(cause).__name__}: {lines[0]}"


def _is_unreachable(error: SQLAlchemyError) -> bool:
    return isinstance(error, OperationalError | InterfaceError)


@contextmanager
def _locked_connection(engine: Engine) -> Iterator[Connection]:
    """One transaction that holds the migration lock: concurrent migrators take turns.

    Workers starting together on a fresh database, or two deploy jobs, would otherwise
    both see an old revision and both try to create the same table.
    """
    with engine.connect() as connection:
        backend = connection.dialect.name
        if backend == "sqlite":
            # The write lock, for the whole migration (SQLite's DDL is transactional).
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif backend == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        else:
            _get_named_lock(connection)
        try:
            yield connection
            connection.commit()
        finally:
            if backend not in {"sqlite", "postgresql"}:
                connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})


def _get_named_lock(connection: Connection) -> None:
    got = connection.execute(
        text("SELECT GET_LOCK(:name, :seconds)"),
        {"name": _LOCK_NAME, "seconds": _LOCK_SECONDS},
    ).scalar()
    if got != 1:
        raise SchemaError(f"another migration held the lock for {_LOCK_SECONDS} s")


def _adopt_schema_made_before_migrations(connection: Connection) -> None:
    if current_revision(connection) is None and inspect(connection).has_table("hero"):
        command.stamp(alembic_config(connection), FIRST_REVISION)
