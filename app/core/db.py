"""The engine for each backend, and the per-request session.

One code path serves SQLite, PostgreSQL and MariaDB: the URL picks the dialect and driver,
and only connection set-up differs by backend.
"""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from app.core.config import Settings


def create_db_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, settings)
    return create_engine(
        url,
        hide_parameters=True,  # a logged SQL error never shows what a client sent
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=settings.db_pool_pre_ping,
        connect_args=server_connect_args(url, settings),
    )


def server_connect_args(url: URL, settings: Settings) -> dict[str, Any]:
    """Bound how long a PostgreSQL or MariaDB server may keep a request waiting."""
    if url.get_backend_name() == "postgresql":
        milliseconds = round(settings.db_statement_timeout * 1000)
        # connect_args replace the URL's own `options` (one string, or a tuple when
        # repeated), so keep those and add ours.
        given = url.query.get("options", ())
        options = [given] if isinstance(given, str) else list(given)
        options.append(f"-c statement_timeout={milliseconds}")
        return {"connect_timeout": settings.db_connect_timeout, "options": " ".join(options)}
    # PyMySQL's connect timeout ends once TCP connects; its socket timeouts bound the rest,
    # the server's greeting included.
    return {
        "connect_timeout": settings.db_connect_timeout,
        "read_timeout": settings.db_statement_timeout,
        "write_timeout": settings.db_statement_timeout,
    }


def _create_sqlite_engine(url: URL, settings: Settings) -> Engine:
    # Requests run on a thread pool, so a connection must be usable from any thread.
    connect_args = {"check_same_thread": False, "timeout": settings.sqlite_busy_timeout}
    # Named parameters (`:name`): the data-access layer runs the compiled SQL itself.
    if is_sqlite_memory(url):
        # Every connection to ":memory:" would see its own empty database: share one.
        engine = create_engine(
            url,
            connect_args=connect_args,
            poolclass=StaticPool,
            paramstyle="named",
            hide_parameters=True,
        )
    else:
        engine = create_engine(
            url,
            paramstyle="named",
            hide_parameters=True,
            connect_args=connect_args,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        )
    event.listen(engine, "connect", configure_sqlite_connection)
    return engine


def is_sqlite_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def configure_sqlite_connection(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers run beside the one writer; NORMAL sync is durable in WAL mode
        # against a crash of the process (the last commits can be lost on power loss).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def get_engine(app: FastAPI) -> Engine:
    engine: Engine = app.state.engine
    return engine


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; service functions own its transactions.

    Async so that opening and closing it costs no thread-pool hop: the session connects
    only when a service function (run in the thread pool) uses it, and that function ends
    its transaction, so closing it here does no I/O.
    """
    with Session(get_engine(request.app), expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
