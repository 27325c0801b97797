"""Alembic's environment: the service's models, and the database to migrate.

The database is the connection handed over in `config.attributes["connection"]` (the
service and the tests), or else the service's own DATABASE_URL (`alembic` by hand).
"""

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

# Each registers its tables on the metadata (teams' registers heroes' too).
import app.auth.models
import app.kit.changes.models
import app.kit.idempotency.models
import app.teams.models
import app.users.models  # noqa: F401
from app.config import load_settings
from app.db.backends import create_db_engine
from app.kit.changes.models import compared_on

target_metadata = SQLModel.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=compared_on(connection.dialect.name),  # an index made on some only
        # SQLite changes most of a table only by rebuilding it.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = create_db_engine(load_settings())
    try:
        with engine.connect() as own_connection:
            run_migrations(own_connection)
            own_connection.commit()
    finally:
        engine.dispose()


def run_offline() -> None:
    """`alembic upgrade --sql`: print the SQL for a database administrator to run."""
    context.configure(
        url=load_settings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
