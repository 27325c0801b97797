"""Data access: one `Database` per app, chosen by the URL's backend (see `create_database`)."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.database.base import Columns, Database, Params, PoolUsage, Row
from app.core.database.engine import EngineDatabase
from app.core.db import SessionDep, get_session, is_sqlite_memory

__all__ = [
    "Columns",
    "Database",
    "DatabaseDep",
    "DependencyOverrides",
    "Params",
    "PoolUsage",
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


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


async def _database_of_overriding_session(session: SessionDep) -> Database:
    return EngineDatabase.of_session(session)


class DependencyOverrides(dict[Callable[..., Any], Callable[..., Any]]):
    """`app.dependency_overrides` that keeps overriding `get_session` meaningful.

    Tests written after SQLModel's testing tutorial override `get_session` with a session
    of their own. Routes do not depend on a session (a yield dependency on every request
    costs more than the whole query: bench/PROFILE.md); so while `get_session` is
    overridden, `get_database` answers with that session instead, resolved by FastAPI as
    any dependency. FastAPI looks overrides up with `.get()`, which this class extends.
    """

    def get(self, key: Any, default: Any = None) -> Any:
        if key is get_database and get_session in self and get_database not in self:
            return _database_of_overriding_session
        return super().get(key, default)
