"""How signing in is declared in the API docs: the OAuth2 password flow's security scheme
(Swagger UI's Authorize button signs in with it), and what each operation requires."""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from app.auth.errors import RefreshRefused, SignInFailed, TokenRefused, TooManySignIns
from app.db import DatabaseUnavailable
from app.http.docs import SECURITY_SCHEMES
from app.http.errors import BodyTooLarge, InvalidInput, MalformedBody, RequestTimedOut, declare

TAG = {
    "name": "auth",
    "description": (
        "Sign in (the OAuth2 password flow), refresh and sign out. An access token lasts "
        "ACCESS_TOKEN_MINUTES; a refresh token is good for one use, and a used one sent "
        "again signs its whole sign-in out."
    ),
}
_NO_STORE = {"Cache-Control": {"description": "no-store", "schema": {"type": "string"}}}
_BODY_ERRORS = (MalformedBody, RequestTimedOut, BodyTooLarge, InvalidInput)

ROUTER: dict[str, Any] = {"responses": declare(DatabaseUnavailable)}
TOKEN: dict[str, Any] = {
    "summary": "Sign in",
    "responses": {
        200: {"headers": _NO_STORE},
        **declare(SignInFailed, TooManySignIns, RequestTimedOut, BodyTooLarge, InvalidInput),
    },
}
REFRESH: dict[str, Any] = {
    "summary": "Trade a refresh token for a new pair",
    "responses": {200: {"headers": _NO_STORE}, **declare(RefreshRefused, *_BODY_ERRORS)},
}
LOGOUT: dict[str, Any] = {
    "summary": "Sign out: revoke the refresh token's sign-in",
    "status_code": 204,
    "responses": declare(*_BODY_ERRORS),
}


def declare_security(app: FastAPI) -> None:
    """Add the security scheme to the API's components, once, when the schema is built."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()  # FastAPI keeps it as app.openapi_schema
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way


def token_errors() -> dict[int | str, dict[str, Any]]:
    """The 401 of an operation that reads a token."""
    return declare(TokenRefused)
