"""How a hero becomes a response: the tutorial's body, the timestamps in headers.

A hero's body is exactly HeroPublic's `{"name", "age", "id"}`, in that order, unless the
client asks for timestamps too with `?fields=created_at,updated_at`. Every response that
returns one hero carries its `ETag` (app/heroes/etags.py) and `Last-Modified` (an HTTP
date: `updated_at` to the second).
"""

from collections.abc import Collection, Sequence
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import Request, Response
from pydantic import BaseModel, Field

from app.core.conditional import modified_since, none_match
from app.core.query import query_parameters, validated_query
from app.core.responses import FastJSONResponse
from app.heroes.etags import hero_etag, opaque_tag
from app.heroes.models import TIMESTAMP_FIELDS, HeroSummary, StoredHero

_FIELD = "|".join(TIMESTAMP_FIELDS)

ExtraFields = Annotated[
    str | None,
    Field(
        pattern=rf"^({_FIELD})(,({_FIELD}))*$",
        description=(
            "Extra fields to add to each hero's body, comma-separated: "
            "`created_at`, `updated_at` (RFC 3339, UTC). Without it the body is exactly "
            '`{"name", "age", "id"}`.'
        ),
        examples=["created_at,updated_at"],
    ),
]
"""The `fields` query parameter of every route that answers heroes."""


class ReadParameters(BaseModel):
    """GET one's query parameters: read from the request, not declared to FastAPI
    (app/core/query.py), and only when there is a query string, so that the plain
    tutorial call validates nothing beyond its path."""

    fields: ExtraFields = None


READ_PARAMETERS = query_parameters(ReadParameters)
"""GET one's query parameters as OpenAPI declares them."""


def requested_fields(request: Request) -> tuple[str, ...]:
    """The extra fields GET one's query string asks for, or its 422."""
    if not request.scope["query_string"]:
        return ()
    return requested(validated_query(ReadParameters, request).fields)


def is_current(hero: StoredHero, request: Request) -> bool:
    """Whether the client's copy is current, so that GET answers 304 (RFC 9110, 13.2.2:
    If-None-Match, when present and readable, decides; else If-Modified-Since)."""
    headers = request.headers
    passes = none_match(headers.get("if-none-match"), opaque_tag(hero))
    if passes is None:
        passes = modified_since(headers.get("if-modified-since"), hero.updated_at)
    return passes is False


def requested(fields: str | None) -> tuple[str, ...]:
    """The extra fields asked for, in the body's order (the pattern vetted the names)."""
    asked = set(fields.split(",")) if fields else set()
    return tuple(name for name in TIMESTAMP_FIELDS if name in asked)


def hero_body(hero: HeroSummary, extra: Collection[str] = ()) -> dict[str, Any]:
    """HeroPublic's fields in its order, then the `extra` ones (only a StoredHero has them)."""
    body: dict[str, Any] = {"name": hero.name, "age": hero.age, "id": hero.id}
    for name in extra:
        body[name] = getattr(hero, name)
    return body


def validators(hero: StoredHero) -> dict[str, str]:
    """The headers a client revalidates or conditions a write with."""
    return {
        "ETag": hero_etag(hero),
        "Last-Modified": format_datetime(hero.updated_at, usegmt=True),
    }


def hero_response(
    hero: StoredHero, extra: Collection[str] = (), *, location: str | None = None
) -> FastJSONResponse:
    headers = validators(hero)
    if location is not None:
        headers["Location"] = location
    return FastJSONResponse(hero_body(hero, extra), headers=headers)


def not_modified(hero: StoredHero) -> Response:
    """304: the client's copy is current; the validators again, no body."""
    return Response(status_code=304, headers=validators(hero))


HERO_HEADERS: dict[str, Any] = {
    "ETag": {
        "description": "The hero's entity tag: send it in If-Match to change the hero safely, "
        "or in If-None-Match to revalidate.",
        "schema": {"type": "string", "examples": ['"1.1"']},
    },
    "Last-Modified": {
        "description": "When the hero last changed (an HTTP date).",
        "schema": {"type": "string"},
    },
}
"""The headers of a response that returns one hero, as OpenAPI declares them."""
LOCATION_HEADER: dict[str, Any] = {
    "Location": {"description": "The new hero's URL.", "schema": {"type": "string"}}
}


def heroes_response(heroes: Sequence[HeroSummary], extra: Collection[str]) -> FastJSONResponse:
    return FastJSONResponse([hero_body(hero, extra) for hero in heroes])
