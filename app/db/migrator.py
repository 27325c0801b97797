"""Changing the database schema with Alembic, configured and run in code.

The service (when it migrates at startup), the `heroes migrate` command and the tests all
come here, so the migration environment is found wherever the package is installed. Only
this module imports Alembic: a worker whose schema is already current never loads it
(see app/db/schema.py).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command, op
from alembic.config import Config
from alembic.operations import BatchOperations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from app.db.backends import backend_class
from app.db.schema import FIRST_REVISION

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(slug)s"


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


@contextmanager
def _locked_connection(engine: Engine) -> Iterator[Connection]:
    """One transaction that holds the migration lock: concurrent migrators take turns.

    Workers starting together on a fresh database, or two deploy jobs, would otherwise
    both see an old revision and both try to create the same table.
    """
    with (
        engine.connect() as connection,
        backend_class(connection.dialect.name).migration_lock(connection),
    ):
        yield connection
        connection.commit()


def _adopt_schema_made_before_migrations(connection: Connection) -> None:
    if current_revision(connection) is None and inspect(connection).has_table("hero"):
        command.stamp(alembic_config(connection), FIRST_REVISION)


@contextmanager
def rebuilt_sqlite_table(table: str) -> Iterator[BatchOperations]:
    """For a migration on SQLite: change `table` by copying it, as Alembic's batch mode
    does, giving the copy AUTOINCREMENT and the old table's record of the highest id ever
    handed out (SQLite would otherwise hand a deleted row's id out again). Needed where
    SQLite cannot change a table in place: a column in a foreign key cannot be dropped once
    the table was rebuilt, and a foreign key added in place is one SQLAlchemy reads back
    without its name or ON DELETE rule."""
    connection = op.get_bind()
    highest = connection.execute(
        text("SELECT seq FROM sqlite_sequence WHERE name = :table"), {"table": table}
    ).scalar()
    with op.batch_alter_table(
        table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        yield batch
    if highest is not None:
        connection.execute(
            text("UPDATE sqlite_sequence SET seq = :seq WHERE name = :table"),
            {"seq": highest, "table": table},
        )
