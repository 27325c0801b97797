"""The database schema's version: which one this code needs, and getting the database there.

Checking is one plain query against `SCHEMA_HEAD`; Alembic, which costs each process about
11 MB, is loaded (app/db/migrator.py) only to change the schema or to explain why it
cannot be used.
"""

from sqlalchemy import Engine, column, inspect, select, table, text
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from app.db.database import Database
from app.db.errors import schema_unavailable
from app.db.statements import Statement

SCHEMA_HEAD = "0012"
"""The newest migration's revision: tests/migrations checks that it is Alembic's head."""
# The schema that `create_all` made before migrations existed is this revision's.
FIRST_REVISION = "0001"
REVISION = Statement(select(column("version_num")).select_from(table("alembic_version")))


class SchemaError(Exception):
    """The schema cannot be used or changed as asked; the message is one line."""


class MigrationLockTimeout(SchemaError):
    """Another migration kept the migration lock too long."""


def database_revision(engine: Engine) -> str | None:
    """The revision Alembic recorded in the database (None for a database it never saw)."""
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            revision: str | None = connection.execute(
                text("SELECT version_num FROM alembic_version")
            ).scalar()
            return revision
    except SQLAlchemyError as error:
        raise SchemaError(describe_database_error(error)) from None


async def check_schema(database: Database) -> None:
    """While serving: the schema is still the code's, or SchemaUnavailable. One read of a
    one-row table through the request path's `Database`, as cheap as a `SELECT 1`; tables
    that are gone (a database dropped and re-created empty) fail it too."""
    row = await database.fetch_one(REVISION, {})
    current = None if row is None else row[0]
    if current != SCHEMA_HEAD:
        raise schema_unavailable(
            f"the schema is at {current or 'none'}, the code needs {SCHEMA_HEAD}"
        )


def verify_schema(engine: Engine) -> None:
    """Refuse a database whose schema is not the one this code was written for."""
    current = database_revision(engine)
    if current == SCHEMA_HEAD:
        return
    from app.db.migrator import known_revisions  # noqa: PLC0415  # only to explain

    if current is not None and current not in known_revisions():
        raise SchemaError(
            f"database schema is at {current}, newer than this code ({SCHEMA_HEAD}): deploy "
            f'the newer code, or run "heroes migrate downgrade {SCHEMA_HEAD}" with it'
        )
    raise SchemaError(
        f"database schema is at {current or 'none'}, the code needs {SCHEMA_HEAD}: "
        'run "heroes migrate upgrade"'
    )


def prepare_database(engine: Engine, *, migrate: bool) -> None:
    """At startup: bring the schema to the code's head, or check that it is there. A
    current schema (every worker after the first, or after `heroes serve`) costs one query."""
    if database_revision(engine) == SCHEMA_HEAD:
        return
    if migrate:
        from app.db.migrator import upgrade  # noqa: PLC0415  # Alembic only to migrate

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
