"""Data access: one `Database` per app, chosen by the URL's backend (see `create_database`)."""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.database.base import Columns, Database, Params, Row
from app.core.database.engine import EngineDatabase
from app.core.db import SessionDep, get_engine, is_sqlite_memory

__all__ = [
    "Columns",
    "Database",
    "DatabaseDep",
    "Params",
    "Row",
    "create_database",
    "get_database",
]


def create_database(engine: Engine, settings: Settings) -> Database:
    """The fastest safe way to run statements on this backend (bench/PROFILE.md):

    - SQLite file: reads on the event loop, writes on one writer thread;
    - PostgreSQL: psycopg's async driver on the event loop;
    - MariaDB, and SQLite in memory: SQLAlchemy on the thread pool.
    """
    # Each backend's module is imported only when used: a driver costs every worker memory.
    backend = make_url(settings.database_url).get_backend_name()
    if backend == "sqlite" and not is_sqlite_memory(engine.url):
        from app.core.database.sqlite import SqliteDatabase  # noqa: PLC0415

        return SqliteDatabase(engine, settings)
    if backend == "postgresql":
        from app.core.database.postgres import PostgresDatabase  # noqa: PLC0415

        return PostgresDatabase(engine, settings)
    return EngineDatabase.of_engine(engine)


async def get_database(request: Request, session: SessionDep) -> Database:
    """The app's database; or, when a test overrides `get_session` with a session of its
    own (SQLModel's testing tutorial does), that session, so the override is honoured."""
    if session.get_bind() is get_engine(request.app):
        database: Database = request.app.state.database
        return database
    return EngineDatabase.of_session(session)


DatabaseDep = Annotated[Database, Depends(get_database)]
