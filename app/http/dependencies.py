"""What routes are handed by FastAPI: the database, the request's write condition, and the
SQLModel tutorial's `get_session`.

This is the one module that reads the app's state (`request.app.state`, set once by
`create_app`): everything below a route receives values.
"""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel import Session

from app.db import Database
from app.db.threaded import EngineDatabase


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """The settings the HTTP layer's dependencies hand to routes, as values."""

    require_if_match: bool
    cursor_secret: str | None
    require_idempotency_key: bool = False
    idempotency_key_ttl: float = 86_400
    idempotency_lease: float = 60
    stream_heartbeat: float = 15.0  # CHANGES_HEARTBEAT_SECONDS
    send_timeout: float = 10.0  # CLIENT_SEND_TIMEOUT


def http_options(request: Request) -> HttpOptions:
    given: HttpOptions = request.app.state.http_options
    return given


async def get_options(request: Request) -> HttpOptions:
    return http_options(request)


OptionsDep = Annotated[HttpOptions, Depends(get_options)]


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A SQLModel session, as the SQLModel tutorial's routes take one.

    No route of the service depends on it (a yield dependency on every request costs more
    than the whole query: bench/PROFILE.md); it exists so that tests written after that
    tutorial can override it (see `DependencyOverrides`).
    """
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def _database_of_overriding_session(session: SessionDep) -> Database:
    return EngineDatabase.of_session(session)


class DependencyOverrides(dict[Callable[..., Any], Callable[..., Any]]):
    """`app.dependency_overrides` that keeps overriding `get_session` meaningful.

    Tests written after SQLModel's testing tutorial override `get_session` with a session
    of their own. While it is overridden, `get_database` answers with that session instead,
    resolved by FastAPI as any dependency. FastAPI looks overrides up with `.get()`, which
    this class extends.
    """

    def get(self, key: Any, default: Any = None) -> Any:
        if key is get_database and get_session in self and get_database not in self:
            return _database_of_overriding_session
        return super().get(key, default)
