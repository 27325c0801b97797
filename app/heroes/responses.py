"""How a hero becomes a response: the tutorial's body, the timestamps in headers.

A hero's body is exactly HeroPublic's `{"name", "age", "id"}`, in that order, unless the
client asks for timestamps too with `?fields=created_at,updated_at`. `Last-Modified` (an
HTTP date) carries `updated_at` on every response that returns one hero.
"""

from collections.abc import Collection, Sequence
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import Query

from app.core.responses import FastJSONResponse
from app.heroes.models import TIMESTAMP_FIELDS, HeroSummary, StoredHero

_FIELD = "|".join(TIMESTAMP_FIELDS)

ExtraFields = Annotated[
    str | None,
    Query(
        pattern=rf"^({_FIELD})(,({_FIELD}))*$",
        description=(
            "Extra fields to add to each hero's body, comma-separated: "
            "`created_at`, `updated_at` (RFC 3339, UTC). Without it the body is exactly "
            '`{"name", "age", "id"}`.'
        ),
        examples=["created_at,updated_at"],
    ),
]


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


def hero_response(hero: StoredHero, extra: Collection[str] = ()) -> FastJSONResponse:
    last_modified = format_datetime(hero.updated_at, usegmt=True)
    return FastJSONResponse(hero_body(hero, extra), headers={"Last-Modified": last_modified})


def heroes_response(heroes: Sequence[HeroSummary], extra: Collection[str]) -> FastJSONResponse:
    return FastJSONResponse([hero_body(hero, extra) for hero in heroes])
