"""The user routes: sign up, your own account, and the admins' view of everyone's."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.convertors import Convertor, register_url_convertor

from app.auth.errors import TokenMissing
from app.auth.policy import AccessDep, AdminDep, CallerDep
from app.http.dependencies import DatabaseDep
from app.http.json_body import StrictJSONRoute
from app.http.responses import FastJSONResponse
from app.kit.listing.links import page_response
from app.kit.listing.parameters import ListRequest
from app.kit.responses import Deleted
from app.users import openapi, service
from app.users.errors import SignupClosed
from app.users.models import UserAdminUpdate, UserCreate, UserPublic, UserUpdate
from app.users.openapi import UserId
from app.users.resource import USERS, USERS_LIST, summary_body, user_body


class _NotMe(Convertor[str]):
    """A user's id in a path, but never `me`: `/users/me` is its own route, and OPTIONS
    and 405 must not list the id routes' methods for it (app/http/methods.py)."""

    regex = "(?!me$)[^/]+"

    def convert(self, value: str) -> str:
        return value  # validated as the route's UserId

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("user_id", _NotMe())

router = APIRouter(prefix="/users", tags=["users"], route_class=StrictJSONRoute, **openapi.ROUTER)
UsersPage = Annotated[ListRequest, Depends(USERS_LIST.dependency)]


@router.post("/", response_model=UserPublic, **openapi.CREATE)
async def create_user(
    user: UserCreate, database: DatabaseDep, access: AccessDep, request: Request
) -> FastJSONResponse:
    """Sign up: 200 and the new user. A username taken already, in any case, is 409.
    With SIGNUP=closed only an admin creates users (with their token)."""
    if access.signup == "closed":
        try:
            caller = await access.caller(request, database)
        except TokenMissing:
            raise SignupClosed() from None
        if not caller.is_admin:
            raise SignupClosed()
    created = await service.create_user(database, access.passwords, user)
    return FastJSONResponse(user_body(created))


@router.get("/me", response_model=UserPublic, **openapi.READ_ME)
async def read_me(caller: CallerDep, database: DatabaseDep) -> FastJSONResponse:
    """The signed-in user, as the token sent names them."""
    return FastJSONResponse(user_body(await service.get_user(database, caller.user_id)))


@router.patch("/me", response_model=UserPublic, **openapi.UPDATE_ME)
async def update_me(
    changes: UserUpdate, caller: CallerDep, database: DatabaseDep, access: AccessDep
) -> FastJSONResponse:
    """A new `username`, or a new `password` with `current_password`: a new password
    signs every session out (all refresh tokens are revoked; access tokens already issued
    run out on their own)."""
    updated = await service.update_own_account(database, access.passwords, caller.user_id, changes)
    return FastJSONResponse(user_body(updated))


@router.get("/", response_model=list[UserPublic], **openapi.LIST)
async def list_users(
    _admin: AdminDep, listing: UsersPage, database: DatabaseDep
) -> FastJSONResponse:
    """Every user, a page at a time, as the heroes' list pages (cursors in `Link`)."""
    page = await service.list_users(database, listing.query)
    return page_response(listing, page, USERS.key_places, summary_body)


@router.patch("/{user_id:user_id}", response_model=UserPublic, **openapi.UPDATE)
async def update_user(
    user_id: UserId, changes: UserAdminUpdate, _admin: AdminDep, database: DatabaseDep
) -> FastJSONResponse:
    """Make a user an admin or not (`is_admin`), or deactivate them (`is_active`: false):
    their tokens stop working on their next request."""
    return FastJSONResponse(user_body(await service.update_user(database, user_id, changes)))


@router.delete("/{user_id:user_id}", **openapi.DELETE)
async def delete_user(user_id: UserId, _admin: AdminDep, database: DatabaseDep) -> Deleted:
    """Delete a user for good; the heroes they owned are left to the admins."""
    await service.delete_user(database, user_id)
    return Deleted()
