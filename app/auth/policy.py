"""Who is asking, and whether the deployment's policies let them: the dependencies routes
declare.

WRITE_POLICY and READ_POLICY decide per request: with the defaults (`anyone`) a request
without an `Authorization` header costs one attribute read and a comparison here, and no
database work. A request that sends a token, or needs one, has it checked (signature,
expiry: app/auth/tokens.py) and its user read by primary key: a deactivated or deleted
user's tokens stop working on their next request (bench/PROFILE.md prices that read).

`Access` is built once by `create_app` and kept on the app's state, as the HTTP options
are (app/http/dependencies.py); the user's row is read through the request's `Database`,
so that a test that overrides `get_session` reads its own.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.auth.errors import AdminOnly, TokenMissing, TokenRefused
from app.auth.passwords import Passwords
from app.auth.throttle import SignInThrottle
from app.auth.tokens import AccessTokens
from app.config import ReadPolicy, Signup, WritePolicy
from app.db import Database
from app.http.dependencies import DatabaseDep
from app.users.resource import CALLER


@dataclass(frozen=True, slots=True)
class Caller:
    """A signed-in user, as of this request."""

    user_id: int
    is_admin: bool


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
        token = bearer_token(request)
        if token is None:
            raise TokenMissing()
        user_id = self.tokens.user_of(token)
        row = await database.fetch_one(CALLER, {"user_id": user_id})
        if row is None:  # gone, or deactivated
            raise TokenRefused()
        return Caller(row[0], bool(row[1]))

    async def writer(self, request: Request, database: Database) -> Writer:
        if self.write_policy == "anyone" and not _sends_credentials(request):
            return ANONYMOUS
        caller = await self.caller(request, database)
        owner_only = self.write_policy == "owner" and not caller.is_admin
        return Writer(caller.user_id, caller.user_id if owner_only else None)


def _sends_credentials(request: Request) -> bool:
    return any(name == b"authorization" for name, _ in request.scope["headers"])


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header; None without the header, and
    TokenRefused for any other scheme or an empty token."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise TokenRefused()
    return token


def access_of(request: Request) -> Access:
    access: Access = request.app.state.access
    return access


async def check_read(request: Request, database: DatabaseDep) -> None:
    """READ_POLICY=signed_in: reads need a valid token."""
    access = access_of(request)
    if access.read_policy != "anyone":
        await access.caller(request, database)


async def get_writer(request: Request, database: DatabaseDep) -> Writer:
    """Who writes: anyone (no token) under WRITE_POLICY=anyone, else a signed-in user."""
    return await access_of(request).writer(request, database)


async def get_caller(request: Request, database: DatabaseDep) -> Caller:
    return await access_of(request).caller(request, database)


async def get_admin(request: Request, database: DatabaseDep) -> Caller:
    caller = await access_of(request).caller(request, database)
    if not caller.is_admin:
        raise AdminOnly()
    return caller


async def get_access(request: Request) -> Access:
    return access_of(request)


ReadAllowed = Depends(check_read)
WriterDep = Annotated[Writer, Depends(get_writer)]
CallerDep = Annotated[Caller, Depends(get_caller)]
AdminDep = Annotated[Caller, Depends(get_admin)]
AccessDep = Annotated[Access, Depends(get_access)]
