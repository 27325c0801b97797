"""How the hero routes are declared in the API docs: in one place, so that the router
imports a handful of names."""

from typing import Annotated, Any

from fastapi import Path

from app.db import DatabaseUnavailable
from app.errors import PreconditionFailed, PreconditionRequired
from app.heroes.errors import HeroNotFound, InvalidHeroChanges, InvalidHeroId, InvalidPage
from app.heroes.models import HERO_ID_MAX
from app.heroes.resource import HEROES_LIST, READ_PARAMETERS
from app.http.conditional import declared_headers
from app.http.errors import BodyTooLarge, InvalidInput, MalformedBody, RequestTimedOut, declare
from app.kit.validators import conditional_headers, row_headers

TAG = {
    "name": "heroes",
    "description": (
        "Create, list, read, update and delete heroes. A hero's JSON body is exactly "
        '`{"id", "name", "age"}`; `secret_name` is accepted on writes and never returned.'
    ),
}

HeroId = Annotated[
    int, Path(ge=-HERO_ID_MAX - 1, le=HERO_ID_MAX, description="The hero's id (64-bit).")
]

_HEADERS = row_headers("hero")
_LOCATION = {"Location": {"description": "The new hero's URL.", "schema": {"type": "string"}}}
_IF_MATCH, _IF_NONE_MATCH, _IF_MODIFIED_SINCE = conditional_headers("hero")

ROUTER: dict[str, Any] = {"responses": declare(DatabaseUnavailable)}

CREATE: dict[str, Any] = {
    "responses": {
        200: {"headers": _HEADERS | _LOCATION},
        **declare(MalformedBody, RequestTimedOut, BodyTooLarge, InvalidInput),
    },
    "summary": "Create a hero",
}
LIST: dict[str, Any] = {
    "responses": declare(InvalidPage),
    "summary": "List heroes",
    "openapi_extra": HEROES_LIST.openapi,
}
READ: dict[str, Any] = {
    "responses": {
        200: {"headers": _HEADERS},
        304: {
            "description": "Not Modified: the copy the client names is current (no body)",
            "headers": _HEADERS,
        },
        **declare(HeroNotFound, InvalidHeroId),
    },
    "summary": "Read a hero",
    "openapi_extra": declared_headers(_IF_NONE_MATCH, _IF_MODIFIED_SINCE, query=READ_PARAMETERS),
}
UPDATE: dict[str, Any] = {
    "responses": {
        200: {"headers": _HEADERS},
        **declare(
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
    "openapi_extra": declared_headers(_IF_MATCH),
}
DELETE: dict[str, Any] = {
    "responses": {
        200: {"content": {"application/json": {"example": {"ok": True}}}},
        **declare(HeroNotFound, PreconditionFailed, InvalidHeroId, PreconditionRequired),
    },
    "summary": "Delete a hero",
    "openapi_extra": declared_headers(_IF_MATCH),
}
