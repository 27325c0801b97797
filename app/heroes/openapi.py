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
from app.http.errors import (
    BodyTooLarge,
    InvalidInput,
    MalformedBody,
    RequestTimedOut,
    declare,
)
from app.http.path_ids import CanonicalInt
from app.kit.idempotency.writes import idempotent_operation
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
_WRITE_CONDITIONS = declared_headers(
    _CONDITIONS.if_match, _CONDITIONS.if_none_match_write, _CONDITIONS.if_unmodified_since
)

ROUTER: dict[str, Any] = {"responses": declare(DatabaseUnavailable)}

CREATE: dict[str, Any] = idempotent_operation(
    {
        "responses": {
            200: {"headers": _HEADERS | _LOCATION},
            **declare(MalformedBody, RequestTimedOut, BodyTooLarge, InvalidInput),
        },
        "summary": "Create a hero",
    }
)
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
    "openapi_extra": declared_headers(
        _CONDITIONS.if_none_match, _CONDITIONS.if_modified_since, query=READ_PARAMETERS
    ),
}
UPDATE: dict[str, Any] = idempotent_operation(
    {
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
        "openapi_extra": _WRITE_CONDITIONS,
    }
)
DELETE: dict[str, Any] = {
    "responses": {
        200: {"content": {"application/json": {"example": {"ok": True}}}},
        **declare(HeroNotFound, PreconditionFailed, InvalidHeroId, PreconditionRequired),
    },
    "summary": "Delete a hero",
    "openapi_extra": _WRITE_CONDITIONS,
}
