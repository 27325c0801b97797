"""Who is asking, and whether the deployment's policies let them: what routes use.

WRITE_POLICY and READ_POLICY decide per request. With the defaults (`anyone`) nothing of
this module runs on a read, and a write without an `Authorization` header costs a look at
its headers and no database work. When a policy asks for tokens, `create_app` adds
`PolicyGuard`, which refuses a request without a valid token (401) before it is routed.
A request that sends a token, or needs one, has it checked (signature, expiry:
app/auth/tokens.py) and its user read by primary key: a deactivated or deleted user's
tokens stop working on their next request (bench/PROFILE.md prices that read).

`Access` is built once by `create_app` and kept on the app's state, as the HTTP options
are (app/http/dependencies.py); in a route, the user's row is read through the request's
`Database`, so that a test that overrides `get_session` reads its own.
"""

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.errors import AdminOnly, TokenMissing, TokenRefused
from app.auth.passwords import Passwords
from app.auth.throttle import SignInThrottle
from app.auth.tokens import AccessTokens
from app.config import ReadPolicy, Signup, WritePolicy
from app.db import Database
from app.errors import Unauthenticated
from app.http.dependencies import DatabaseDep
from app.http.errors import error_kind, error_response
from app.observability.context import mark_error_kind
from app.users.resource import CALLER


@dataclass(frozen=True, slots=True)
class Caller:
    """A signed-in user, as of this request."""

    user_id: int
    is_admin: bool
    valid_for: float  # seconds until the token it signed in with expires


@dataclass(frozen=True, slots=True)
class Writer:
    """Who writes, and what that lets them change: `owner` is who the row must belong to
    (WRITE_POLICY=owner, not an admin), None when any row will do."""

    user_id: int | None
    owner: int | None = None


ANONYMOUS = Writer(None)


@dataclass(frozen=True, slots=True)
class Access:
    """The deployment's policies, and what checks and issues credentials."""

    write_policy: WritePolicy
    read_policy: ReadPolicy
    signup: Signup
    tokens: AccessTokens
    passwords: Passwords
    throttle: SignInThrottle
    refresh_days: int
    client_header: bytes | None  # RATE_LIMIT_CLIENT_HEADER: where a client's address is

    async def caller(self, request: Request, database: Database) -> Caller:
        """The signed-in user the request's bearer token names, or Unauthenticated."""
        return await self.caller_of(request.scope, database)

    async def caller_of(self, scope: Scope, database: Database) -> Caller:
        token = bearer_token(scope)
        if token is None:
            raise TokenMissing()
        user_id, valid_for = self.tokens.holder_of(token)
        row = await database.fetch_one(CALLER, {"user_id": user_id})
        if row is None:  # gone, or deactivated
            raise TokenRefused()
        return Caller(row[0], bool(row[1]), valid_for)

    async def writer(self, scope: Scope, database: Database) -> Writer:
        if self.write_policy == "anyone" and _authorization(scope) is None:
            return ANONYMOUS
        caller = await self.caller_of(scope, database)
        owner_only = self.write_policy == "owner" and not caller.is_admin
        return Writer(caller.user_id, caller.user_id if owner_only else None)


def _authorization(scope: Scope) -> bytes | None:
    return next((value for name, value in scope["headers"] if name == b"authorization"), None)


def bearer_token(scope: Scope) -> str | None:
    """The token of an `Authorization: Bearer` header; None without the header, and
    TokenRefused for any other scheme or an empty token."""
    header = _authorization(scope)
    if header is None:
        return None
    scheme, _, token = header.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise TokenRefused()
    return token


def access_of(request: Request) -> Access:
    access: Access = request.app.state.access
    return access


READS = frozenset({"GET", "HEAD"})


class PolicyGuard:
    """Added by `create_app` only when a policy asks for tokens: a request to a protected
    path (`prefixes`) without a valid token where one is needed is answered 401 here,
    before routing, and a writer's rights are kept in the request's state for `writer_of`.

    Middleware rather than a FastAPI dependency: resolving a dependency (and the database
    one beneath it) cost GET one with a token about 30 µs more than this
    (bench/PROFILE.md, "A token on GET one"). The user is read through the app's own
    `Database` (an overriding `get_session` is not seen here; the tutorial's tests run
    with the default policies, which add no guard)."""

    def __init__(
        self, app: ASGIApp, access: Access, database: Database, prefixes: tuple[str, ...]
    ) -> None:
        self.app = app
        self.access = access
        self.database = database
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        try:
            await self._check(scope)
        except Unauthenticated as refused:
            mark_error_kind(scope, error_kind(refused))
            await error_response(refused)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope) -> None:
        access = self.access
        if scope["method"] in READS:
            if access.read_policy != "anyone":
                reader = await access.caller_of(scope, self.database)
                scope.setdefault("state", {})[_READ_UNTIL] = time.monotonic() + reader.valid_for
        elif scope["method"] != "OPTIONS" and access.write_policy != "anyone":
            writer = await access.writer(scope, self.database)
            scope.setdefault("state", {})[_WRITER] = writer


_WRITER = "heroes.writer"
_READ_UNTIL = "heroes.read_until"


def read_until(request: Request) -> float | None:
    """When (`time.monotonic()`) the token a read was let in with expires: a response that
    lasts (a stream) ends then. None where reading needs no token."""
    until: float | None = request.scope.get("state", {}).get(_READ_UNTIL)
    return until


async def writer_of(request: Request, database: Database) -> Writer:
    """Who writes: the one `PolicyGuard` found, or (WRITE_POLICY=anyone) the sender of a
    valid token, or anyone."""
    found: Writer | None = request.scope.get("state", {}).get(_WRITER)
    if found is not None:
        return found
    return await access_of(request).writer(request.scope, database)


async def get_caller(request: Request, database: DatabaseDep) -> Caller:
    return await access_of(request).caller(request, database)


async def get_admin(request: Request, database: DatabaseDep) -> Caller:
    caller = await access_of(request).caller(request, database)
    if not caller.is_admin:
        raise AdminOnly()
    return caller


async def get_access(request: Request) -> Access:
    return access_of(request)


CallerDep = Annotated[Caller, Depends(get_caller)]
AdminDep = Annotated[Caller, Depends(get_admin)]
AccessDep = Annotated[Access, Depends(get_access)]
