"""Teams described once for the kit, and their answers: a team alone, or with its heroes."""

from collections.abc import Collection
from typing import Any

from pydantic import Field
from sqlalchemy import bindparam, literal_column, null, select, union_all

from app.db import Columns, Row
from app.db.statements import Statement
from app.db.tables import column
from app.heroes.models import Hero, HeroSummary
from app.http.responses import FastJSONResponse
from app.kit.changes.history import ChangeAnswer, History
from app.kit.fields import Text, is_id, storable_text, text_filter
from app.kit.listing.filters import Contains, Equal
from app.kit.listing.parameters import ListParameters
from app.kit.resource import Resource, SortKey
from app.kit.validators import validators
from app.teams.errors import TeamNotFound
from app.teams.models import (
    HEADQUARTERS_MAX_LENGTH,
    HEROES_SHOWN,
    NAME_MAX_LENGTH,
    TEAM_LOG,
    StoredTeam,
    Team,
    TeamPublic,
)

team_id, team_name = column(Team.id), column(Team.name)
team_headquarters = column(Team.headquarters)
team_version, team_updated_at = column(Team.version), column(Team.updated_at)
SUMMARY: Columns = (team_id, team_name, team_headquarters)
STORED: Columns = (*SUMMARY, column(Team.created_at), team_updated_at, team_version)

TEAMS = Resource(
    name="teams",
    singular="team",
    table=Team,
    id=team_id,
    version=team_version,
    updated_at=team_updated_at,
    summary=SUMMARY,
    stored=STORED,
    not_found=TeamNotFound,
    changes=TEAM_LOG,
    filters={
        "name": Equal(
            team_name,
            Text,
            text_filter("Only the team with exactly this name.", "Preventers", NAME_MAX_LENGTH),
        ),
        "name_contains": Contains(
            team_name,
            Text,
            text_filter(
                "Only teams whose name contains this text, A-Z and a-z matching each other "
                "and every other character only itself; `%`, `_` and `\\` are plain.",
                "vent",
                NAME_MAX_LENGTH,
            ),
        ),
        "headquarters": Equal(
            team_headquarters,
            Text,
            text_filter(
                "Only teams with exactly these headquarters.",
                "Sharp Tower",
                HEADQUARTERS_MAX_LENGTH,
            ),
        ),
    },
    sorts={
        "id": SortKey(team_id, is_id),
        "name": SortKey(
            team_name, storable_text(NAME_MAX_LENGTH), note="Names sort by Unicode code point."
        ),
    },
    sort_example="-name",
    owner=column(Team.owner_id),
)

TEAMS_LIST = ListParameters(TEAMS)
TEAM_HISTORY = History(TEAMS)


class TeamChange(ChangeAnswer):
    """One change in a team's history, as the docs and client generators see it."""

    data: TeamPublic = Field(
        description="The team's public state after the change (for a delete, its last state)."
    )


_HEROES = (column(Hero.id), column(Hero.name), column(Hero.age))
_FIRST_HEROES = (
    select(*_HEROES)
    .where(column(Hero.team_id) == bindparam("row_id"))
    .order_by(column(Hero.id))
    .limit(HEROES_SHOWN)
    .subquery()
)
WITH_HEROES = Statement(
    union_all(
        select(
            literal_column("0").label("part"),
            *STORED,
            *(null().label(f"hero_{hero.key}") for hero in _HEROES),
        ).where(team_id == bindparam("row_id")),
        select(
            literal_column("1"),
            *(null() for _ in STORED),
            *_FIRST_HEROES.c,
        ),
    ).order_by(literal_column("part"), literal_column("hero_id"))
)
"""A team, then the first of its heroes in id order: one statement, so one snapshot, in
which the team's version describes exactly these heroes. A union rather than a join, so
that the team's columns (its timestamps, slow to parse on SQLite) come once, not on every
hero's row; bench/PROFILE.md (2026-12-02) measured both and two statements."""


def with_heroes(found: list[Row]) -> tuple[StoredTeam, list[HeroSummary]] | None:
    """The team and its heroes from WITH_HEROES's rows, or None when there is no team."""
    if not found or found[0][0] != 0:
        return None
    width = len(STORED) + 1
    heroes = [HeroSummary(*row[width:]) for row in found[1:]]
    return StoredTeam(*found[0][1:width]), heroes


_SLOTS = 128  # the most teams one page of heroes (100) can name, as a power of two
_BY_IDS = {
    slots: Statement(
        select(*SUMMARY).where(team_id.in_([bindparam(f"id_{slot}") for slot in range(slots)]))
    )
    for slots in (1 << power for power in range(_SLOTS.bit_length()))
}
"""Teams by id, one statement per power of two of ids (so that a handful serve any page)."""


def by_ids(ids: Collection[int]) -> tuple[Statement, dict[str, Any]]:
    """The statement and params that read these teams (the last id repeated to fill)."""
    ordered = sorted(ids)
    slots = 1 << (len(ordered) - 1).bit_length()
    params = {f"id_{slot}": ordered[min(slot, len(ordered) - 1)] for slot in range(slots)}
    return _BY_IDS[slots], params


def team_body(team: StoredTeam, heroes: list[HeroSummary] | None = None) -> dict[str, Any]:
    """TeamPublic's body, or TeamPublicWithHeroes' with `heroes`."""
    body = team.public_body()
    if heroes is not None:
        body["heroes"] = [hero.public_body() for hero in heroes]
    return body


def stored_team(row: Row) -> StoredTeam:
    """A team as one row reads it (TEAMS.stored)."""
    return StoredTeam(*row)


def team_response(
    team: StoredTeam, heroes: list[HeroSummary] | None = None, *, location: str | None = None
) -> FastJSONResponse:
    headers = validators(team)
    if location is not None:
        headers["Location"] = location
    return FastJSONResponse(team_body(team, heroes), headers=headers)


def list_body(row: Any) -> dict[str, Any]:
    """A page's team, straight from its row (id, name, headquarters)."""
    return {"name": row[1], "headquarters": row[2], "id": row[0]}
