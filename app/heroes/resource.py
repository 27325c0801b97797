"""Heroes described once for the kit, and what is theirs alone: ages that may be unknown
(sorting as if they were the largest), `?fields=` for their team and timestamps, and
`?expand=team` for their team itself."""

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, Field

from app.db import Columns, Row
from app.db.tables import column
from app.heroes.errors import HeroNotFound
from app.heroes.models import (
    AGE_MAX,
    EXTRA_FIELDS,
    HERO_LOG,
    NAME_MAX_LENGTH,
    Hero,
    HeroState,
    HeroSummary,
    StoredHero,
)
from app.http.query_string import query_parameters, validated_query
from app.http.responses import FastJSONResponse
from app.kit.changes.history import ChangeAnswer, History
from app.kit.fields import ID_MAX, Text, is_id, storable_text, text_filter
from app.kit.listing.filters import Contains, Equal, Range, Reference
from app.kit.listing.parameters import ListParameters, requested_fields
from app.kit.resource import VERSION_MAX, Resource, SortKey
from app.kit.validators import Versioned, embedding, validators

Teams = Mapping[int, dict[str, Any]]
"""Teams' bodies by id, to embed in heroes' bodies."""


@dataclass(frozen=True, slots=True)
class ExpandedTeam:
    """A hero's team as GET one embeds it: its row's validators (None without a team)
    and its body by id."""

    row: Versioned | None
    bodies: Teams


_FIELD = "|".join(EXTRA_FIELDS)
ExtraFields = Annotated[
    str | None,
    Field(
        pattern=rf"^({_FIELD})(,({_FIELD}))*$",
        description=(
            "Extra fields to add to each hero's body, comma-separated: `team_id` (its "
            "team's id, or null), `created_at`, `updated_at` (RFC 3339, UTC). Without it "
            'the body is exactly `{"name", "age", "id"}`.'
        ),
        examples=["team_id,updated_at"],
    ),
]
"""The `fields` query parameter of every route that answers heroes."""

EXPANSIONS = ("team",)
Expand = Annotated[
    str | None,
    Field(
        pattern="^team$",
        description=(
            '`team` adds `"team"` to each hero\'s body: its team\'s `{"name", '
            '"headquarters", "id"}`, or null when it has none.'
        ),
        examples=["team"],
    ),
]
"""The `expand` query parameter of the routes that read heroes."""

NULL_AGE_RULE = (
    "Heroes with no age sort as if theirs were the largest: after every age ascending, "
    "before every age descending."
)

hero_id, hero_name, hero_age = column(Hero.id), column(Hero.name), column(Hero.age)
hero_version, hero_updated_at = column(Hero.version), column(Hero.updated_at)
hero_team_id = column(Hero.team_id)
SUMMARY: Columns = (hero_id, hero_name, hero_age, hero_team_id)
STORED: Columns = (*SUMMARY, column(Hero.created_at), hero_updated_at, hero_version)
TEAM_PLACE = SUMMARY.index(hero_team_id)
"""team_id's place in a page's rows and in a stored hero's: `?expand=team` reads no more
than a plain page."""
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
    changes=HERO_LOG,
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
        "team_id": Reference(
            hero_team_id,
            exact=(
                int | None,
                Field(
                    None,
                    ge=-ID_MAX - 1,
                    le=ID_MAX,
                    description="Only the heroes of the team with this id.",
                    examples=[1],
                ),
            ),
            present_name="has_team",
            present=(
                bool | None,
                Field(
                    None,
                    description="`true`: only heroes in a team; `false`: only heroes in none.",
                    examples=[False],
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
    extra_fields=EXTRA_FIELDS,
    expand=(Expand, Field(None)),
    expansions=EXPANSIONS,
    version_max=VERSION_MAX,
    owner=column(Hero.owner_id),
)


HEROES_LIST = ListParameters(HEROES)
HERO_HISTORY = History(HEROES)


class HeroChange(ChangeAnswer):
    """One change in a hero's history, as the docs and client generators see it."""

    data: HeroState = Field(
        description="The hero's public state after the change (for a delete, its last state)."
    )


class ReadParameters(BaseModel):
    """GET one's query parameters: read from the request, not declared to FastAPI
    (app/http/query_string.py), and only when there is a query string, so that the plain
    tutorial call validates nothing beyond its path."""

    fields: ExtraFields = None
    expand: Expand = None


READ_PARAMETERS = query_parameters(ReadParameters)
"""GET one's query parameters as OpenAPI declares them."""


@dataclass(frozen=True, slots=True)
class Shape:
    """What a hero's body holds beyond HeroPublic's fields: `extra` fields, in order, and
    the `team` (its body, or None) when asked for."""

    extra: tuple[str, ...] = ()
    expand_team: bool = False


def shape_to_read(request: Request) -> Shape:
    """What GET one's query string asks for, or its 422."""
    if not request.scope["query_string"]:
        return Shape()
    given = validated_query(ReadParameters, request.query_params)
    return Shape(requested_fields(HEROES, given.fields), given.expand is not None)


def hero_body(
    hero: HeroSummary, extra: Collection[str] = (), team: Teams | None = None
) -> dict[str, Any]:
    """HeroPublic's fields in its order, then the `extra` ones (only a StoredHero has
    them), then its team's body when `team` bodies are given."""
    body = hero.public_body()
    for name in extra:
        body[name] = getattr(hero, name)
    if team is not None:
        assert isinstance(hero, StoredHero)  # noqa: S101  # only a stored hero has its team
        body["team"] = _team_of(hero.team_id, team)
    return body


def _team_of(team_id: int | None, teams: Teams) -> dict[str, Any] | None:
    # A team deleted since its hero was read is gone: null, as for a hero with none.
    return None if team_id is None else teams.get(team_id)


def summary_body(row: Row) -> dict[str, Any]:
    """A page's hero, straight from its row (id, name, age, team_id)."""
    return {"name": row[1], "age": row[2], "id": row[0]}


def list_body(extra: tuple[str, ...], teams: Teams | None) -> Callable[[Row], dict[str, Any]]:
    """How a page's row becomes a hero's body, `teams` embedded by id if given."""
    if extra:
        return lambda row: hero_body(StoredHero(*row), extra, teams)
    if teams is None:
        return summary_body
    return lambda row: summary_body(row) | {"team": _team_of(row[TEAM_PLACE], teams)}


def team_ids(heroes: Iterable[Row]) -> set[int]:
    """The teams of a page's heroes (read with their stored columns)."""
    return {row[TEAM_PLACE] for row in heroes if row[TEAM_PLACE] is not None}


def stored_hero(row: Row) -> StoredHero:
    """A hero as one row reads it (HEROES.stored)."""
    return StoredHero(*row)


def hero_response(
    hero: StoredHero,
    extra: Collection[str] = (),
    *,
    team: ExpandedTeam | None = None,
    location: str | None = None,
) -> FastJSONResponse:
    """A hero's answer; with `team`, its team embedded, and validators that cover both."""
    if team is None:
        headers = validators(hero)
        body = hero_body(hero, extra)
    else:
        headers = validators(embedding(hero, team.row) if team.row is not None else hero)
        body = hero_body(hero, extra, team.bodies)
    if location is not None:
        headers["Location"] = location
    return FastJSONResponse(body, headers=headers)
