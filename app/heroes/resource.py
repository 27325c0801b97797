"""Heroes described once for the kit, and what is theirs alone: ages that may be unknown
(sorting as if they were the largest), and `?fields=` for the timestamps."""

from collections.abc import Callable, Collection
from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, Field

from app.db import Columns, Row
from app.db.tables import column
from app.heroes.errors import HeroNotFound
from app.heroes.models import (
    AGE_MAX,
    NAME_MAX_LENGTH,
    TIMESTAMP_FIELDS,
    Hero,
    HeroSummary,
    StoredHero,
)
from app.http.query_string import query_parameters, validated_query
from app.http.responses import FastJSONResponse
from app.kit.fields import Text, is_id, storable_text, text_filter
from app.kit.listing.filters import Contains, Equal, Range
from app.kit.listing.parameters import ListParameters, requested_fields
from app.kit.resource import VERSION_MAX, Resource, SortKey
from app.kit.validators import validators

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

NULL_AGE_RULE = (
    "Heroes with no age sort as if theirs were the largest: after every age ascending, "
    "before every age descending."
)

hero_id, hero_name, hero_age = column(Hero.id), column(Hero.name), column(Hero.age)
hero_version, hero_updated_at = column(Hero.version), column(Hero.updated_at)
SUMMARY: Columns = (hero_id, hero_name, hero_age)
STORED: Columns = (*SUMMARY, column(Hero.created_at), hero_updated_at, hero_version)
"""What the service reads of a hero (never its secret), in HeroSummary's and StoredHero's
order. Pages read timestamps only when asked: parsing them costs more than the query."""


def _is_age(value: object) -> bool:
    return type(value) is int and 0 <= value <= AGE_MAX


def _name(description: str, example: str) -> Any:
    return text_filter(description, example, NAME_MAX_LENGTH)


def _age(description: str, example: int) -> tuple[Any, Any]:
    return (
        int | None,
        Field(None, ge=0, le=AGE_MAX, description=description, examples=[example]),
    )


HEROES = Resource(
    name="heroes",
    singular="hero",
    table=Hero,
    id=hero_id,
    version=hero_version,
    updated_at=hero_updated_at,
    summary=SUMMARY,
    stored=STORED,
    not_found=HeroNotFound,
    filters={
        "name": Equal(
            hero_name,
            Text,
            _name(
                "Only heroes with exactly this name (case, accents and spaces count).", "Deadpond"
            ),
        ),
        "name_contains": Contains(
            hero_name,
            Text,
            _name(
                "Only heroes whose name contains this text. A-Z and a-z match each other; "
                "every other character, accented letters included, matches only itself, the "
                "same on every database. `%`, `_` and `\\` are plain characters.",
                "pond",
            ),
        ),
        "age": Range(
            hero_age,
            exact=_age("Only heroes of exactly this age.", 48),
            low=_age("Only heroes at least this old.", 18),
            high=_age("Only heroes at most this old.", 60),
            present=(
                bool | None,
                Field(
                    None,
                    description=(
                        "`true`: only heroes with an age; `false`: only heroes with no age."
                    ),
                    examples=[True],
                ),
            ),
        ),
    },
    sorts={
        "id": SortKey(hero_id, is_id),
        "name": SortKey(
            hero_name, storable_text(NAME_MAX_LENGTH), note="Names sort by Unicode code point."
        ),
        "age": SortKey(hero_age, _is_age, nullable=True, note=NULL_AGE_RULE),
    },
    sort_example="-age,name",
    fields=(ExtraFields, Field(None)),
    extra_fields=TIMESTAMP_FIELDS,
    version_max=VERSION_MAX,
)

HEROES_LIST = ListParameters(HEROES)


class ReadParameters(BaseModel):
    """GET one's query parameters: read from the request, not declared to FastAPI
    (app/http/query_string.py), and only when there is a query string, so that the plain
    tutorial call validates nothing beyond its path."""

    fields: ExtraFields = None


READ_PARAMETERS = query_parameters(ReadParameters)
"""GET one's query parameters as OpenAPI declares them."""


def hero_body(hero: HeroSummary, extra: Collection[str] = ()) -> dict[str, Any]:
    """HeroPublic's fields in its order, then the `extra` ones (only a StoredHero has them)."""
    body: dict[str, Any] = {"name": hero.name, "age": hero.age, "id": hero.id}
    for name in extra:
        body[name] = getattr(hero, name)
    return body


def summary_body(row: Row) -> dict[str, Any]:
    """A page's hero, straight from its row (id, name, age)."""
    return {"name": row[1], "age": row[2], "id": row[0]}


def list_body(extra: tuple[str, ...]) -> Callable[[Row], dict[str, Any]]:
    """How a page's row becomes a hero's body."""
    if not extra:
        return summary_body
    return lambda row: hero_body(StoredHero(*row), extra)


def fields_to_read(request: Request) -> tuple[str, ...]:
    """The extra fields GET one's query string asks for, or its 422."""
    if not request.scope["query_string"]:
        return ()
    return requested_fields(HEROES, validated_query(ReadParameters, request.query_params).fields)


def stored_hero(row: Row) -> StoredHero:
    """A hero as one row reads it (HEROES.stored)."""
    return StoredHero(*row)


def hero_response(
    hero: StoredHero, extra: Collection[str] = (), *, location: str | None = None
) -> FastJSONResponse:
    headers = validators(hero)
    if location is not None:
        headers["Location"] = location
    return FastJSONResponse(hero_body(hero, extra), headers=headers)
