"""How the hero routes are declared in the API docs: in one place, so that the router
imports a handful of names."""

from typing import Annotated, Any

from fastapi import Path

from app.auth.errors import TokenRefused
from app.auth.openapi import SIGNED_IN_IF_POLICY
from app.db import DatabaseUnavailable
from app.errors import NotOwner, PreconditionFailed, PreconditionRequired
from app.heroes.errors import HeroNotFound, InvalidHeroChanges, InvalidHeroId, InvalidPage
from app.heroes.models import HERO_ID_MAX
from app.heroes.resource import HEROES_LIST, READ_PARAMETERS
from app.http.conditional import declared_headers
from app.http.errors import (
    BodyTooLarge,
    InvalidInput,
    MalformedBody,
    RequestTimedOut,
    UriTooLong,
    declare,
)
from app.http.path_ids import CanonicalInt
from app.kit.validators import conditional_headers, row_headers

TAG = {
    "name": "heroes",
    "description": (
        "Create, list, read, update and delete heroes. A hero's JSON body is exactly "
        '`{"id", "name", "age"}`; `secret_name` is accepted on writes and never returned.'
    ),
}

HeroId = Annotated[
    int,
    Path(ge=-HERO_ID_MAX - 1, le=HERO_ID_MAX, description="The hero's id (64-bit)."),
    CanonicalInt,
]

_HEADERS = row_headers("hero")
_LOCATION = {"Location": {"description": "The new hero's URL.", "schema": {"type": "string"}}}
_CONDITIONS = conditional_headers("hero")
_WRITE_CONDITIONS = (
    declared_headers(
        _CONDITIONS.if_match, _CONDITIONS.if_none_match_write, _CONDITIONS.if_unmodified_since
    )
    | SIGNED_IN_IF_POLICY
)

ROUTER: dict[str, Any] = {"responses": declare(DatabaseUnavailable)}

CREATE: dict[str, Any] = {
    "responses": {
        200: {"headers": _HEADERS | _LOCATION},
        **declare(TokenRefused, MalformedBody, RequestTimedOut, BodyTooLarge, InvalidInput),
    },
    "summary": "Create a hero",
    "openapi_extra": SIGNED_IN_IF_POLICY,
}
LIST: dict[str, Any] = {
    "responses": declare(TokenRefused, UriTooLong, InvalidPage),
    "summary": "List heroes",
    "openapi_extra": HEROES_LIST.openapi | SIGNED_IN_IF_POLICY,
}
READ: dict[str, Any] = {
    "responses": {
        200: {"headers": _HEADERS},
        304: {
            "description": "Not Modified: the copy the client names is current (no body)",
            "headers": _HEADERS,
        },
        **declare(TokenRefused, HeroNotFound, InvalidHeroId),
    },
    "summary": "Read a hero",
    "openapi_extra": declared_headers(
        _CONDITIONS.if_none_match, _CONDITIONS.if_modified_since, query=READ_PARAMETERS
    )
    | SIGNED_IN_IF_POLICY,
}
UPDATE: dict[str, Any] = {
    "responses": {
        200: {"headers": _HEADERS},
        **declare(
            TokenRefused,
            NotOwner,
            HeroNotFound,
            MalformedBody,
            RequestTimedOut,
            PreconditionFailed,
            BodyTooLarge,
            InvalidHeroChanges,
            PreconditionRequired,
        ),
    },
    "summary": "Update a hero",
    "openapi_extra": _WRITE_CONDITIONS,
}
DELETE: dict[str, Any] = {
    "responses": {
        200: {"content": {"application/json": {"example": {"ok": True}}}},
        **declare(
            TokenRefused,
            NotOwner,
            HeroNotFound,
            PreconditionFailed,
            InvalidHeroId,
            PreconditionRequired,
        ),
    },
    "summary": "Delete a hero",
    "openapi_extra": _WRITE_CONDITIONS,
}
