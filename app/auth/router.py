"""The sign-in routes: /auth/token (the OAuth2 password flow), /auth/refresh, /auth/logout.

Their answers carry `Cache-Control: no-store` (RFC 6749, 5.1): a token must not be kept by
a cache on the way.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import openapi, service
from app.auth.models import RefreshRequest, TokenPair
from app.auth.policy import AccessDep
from app.http.dependencies import DatabaseDep
from app.http.json_body import StrictJSONRoute
from app.http.ratelimit import client_of
from app.http.responses import FastJSONResponse

router = APIRouter(prefix="/auth", tags=["auth"], route_class=StrictJSONRoute, **openapi.ROUTER)
SignInForm = Annotated[OAuth2PasswordRequestForm, Depends()]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post("/token", response_model=TokenPair, **openapi.TOKEN)
async def sign_in(
    form: SignInForm, database: DatabaseDep, access: AccessDep, request: Request
) -> FastJSONResponse:
    """Sign in with `username` and `password` (a form, as OAuth2's password flow sends
    it): an access token to send as `Authorization: Bearer`, and a refresh token.

    A wrong password and an unknown username get the same 401. Failed sign-ins are
    counted per account and client address: past SIGN_IN_ATTEMPTS in
    SIGN_IN_WINDOW_MINUTES, 429 with `Retry-After`.
    """
    client = client_of(request.scope, access.client_header)
    pair = await service.sign_in(database, access, form.username, form.password, client)
    return FastJSONResponse(pair.model_dump(), headers=NO_STORE)


@router.post("/refresh", response_model=TokenPair, **openapi.REFRESH)
async def refresh(
    body: RefreshRequest, database: DatabaseDep, access: AccessDep
) -> FastJSONResponse:
    """A new access token and refresh token for a refresh token, which is then used up.
    One sent again after its use signs its whole sign-in out (every token refreshed from
    it): it was copied."""
    pair = await service.refresh(database, access, body.refresh_token)
    return FastJSONResponse(pair.model_dump(), headers=NO_STORE)


@router.post("/logout", **openapi.LOGOUT)
async def logout(body: RefreshRequest, database: DatabaseDep) -> Response:
    """Revoke the refresh token, and every token refreshed from the same sign-in. 204
    whether or not the token was known. Access tokens already issued run out on their own
    (ACCESS_TOKEN_MINUTES)."""
    await service.sign_out(database, body.refresh_token)
    return Response(status_code=204, headers=NO_STORE)
