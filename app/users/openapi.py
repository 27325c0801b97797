"""How the user routes are declared in the API docs."""

from typing import Annotated, Any

from fastapi import Path

from app.auth.errors import AdminOnly, TokenRefused
from app.db import DatabaseUnavailable
from app.errors import PreconditionFailed
from app.http.docs import SIGNED_IN, SIGNED_IN_IF_POLICY
from app.http.errors import BodyTooLarge, MalformedBody, RequestTimedOut, UriTooLong, declare
from app.http.path_ids import CanonicalInt
from app.kit.fields import ID_MAX
from app.users.errors import (
    InvalidUser,
    InvalidUserId,
    InvalidUserPage,
    SignupClosed,
    UsernameTaken,
    UserNotFound,
    WrongCurrentPassword,
)
from app.users.resource import USERS_LIST

TAG = {
    "name": "users",
    "description": (
        "Sign up, your own account, and (for admins) everyone's. A user's JSON body is "
        '`{"id", "username", "is_admin"}`; passwords are never returned.'
    ),
}

UserId = Annotated[
    int, Path(ge=-ID_MAX - 1, le=ID_MAX, description="The user's id (64-bit)."), CanonicalInt
]

_BODY = (MalformedBody, RequestTimedOut, BodyTooLarge)
ROUTER: dict[str, Any] = {"responses": declare(DatabaseUnavailable)}

CREATE: dict[str, Any] = {
    "summary": "Sign up",
    "responses": declare(TokenRefused, SignupClosed, UsernameTaken, *_BODY, InvalidUser),
    "openapi_extra": SIGNED_IN_IF_POLICY,
}
READ_ME: dict[str, Any] = {
    "summary": "Your account",
    "responses": declare(TokenRefused),
    "openapi_extra": SIGNED_IN,
}
UPDATE_ME: dict[str, Any] = {
    "summary": "Change your username or password",
    "responses": declare(
        TokenRefused, WrongCurrentPassword, UsernameTaken, PreconditionFailed, *_BODY, InvalidUser
    ),
    "openapi_extra": SIGNED_IN,
}
LIST: dict[str, Any] = {
    "summary": "List users (admins)",
    "responses": declare(TokenRefused, AdminOnly, UriTooLong, InvalidUserPage),
    "openapi_extra": USERS_LIST.openapi | SIGNED_IN,
}
UPDATE: dict[str, Any] = {
    "summary": "Make a user an admin, or deactivate one (admins)",
    "responses": declare(TokenRefused, AdminOnly, UserNotFound, *_BODY, InvalidUserId),
    "openapi_extra": SIGNED_IN,
}
DELETE: dict[str, Any] = {
    "summary": "Delete a user (admins)",
    "responses": declare(TokenRefused, AdminOnly, UserNotFound, InvalidUserId),
    "openapi_extra": SIGNED_IN,
}
