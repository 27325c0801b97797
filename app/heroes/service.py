"""Hero use cases: each function takes the database first and is one unit of work.

The service sets the timestamps and bumps the version on every change; a conditional
change or delete (`expected` versions, from If-Match) compares and sets in the same
statement (app/kit/rows.py says how races resolve).

A team's answer lists its heroes, so a write that changes what it lists touches the team
(its version and `updated_at` move) in the write's own transaction: a hero joining,
leaving or moving, and a change to or the deletion of one of its heroes. A hero that
names a team that does not exist is refused by the foreign key: HeroTeamNotFound.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from app.db import Database, Row
from app.db.errors import ConstraintViolation
from app.db.tables import utc_now
from app.heroes.errors import HeroTeamNotFound
from app.heroes.models import Hero, HeroCreate, HeroUpdate, StoredHero
from app.heroes.resource import HEROES, TEAM_PLACE
from app.kit import rows
from app.kit.listing.pages import Page, fetch_page
from app.kit.listing.query import ListQuery
from app.kit.rows import Also, Expected
from app.teams.models import Team

_TOUCH_TEAMS = rows.touch_statement(Team)
_RELEASE = rows.release_statement(Hero, Hero.team_id)


def _touch_team_after(_before: Row | None, after: Row | None) -> Any:
    return rows.touch_params(after[TEAM_PLACE] if after else None)


def _touch_teams_around(before: Row | None, after: Row | None) -> Any:
    return rows.touch_params(
        before[TEAM_PLACE] if before else None, after[TEAM_PLACE] if after else None
    )


_TOUCH_TEAM = Also(_TOUCH_TEAMS, _touch_team_after)
_TOUCH_OLD_AND_NEW_TEAM = Also(_TOUCH_TEAMS, _touch_teams_around, sees_before=True)


async def create_hero(
    database: Database, data: HeroCreate, also: Sequence[Also] = ()
) -> StoredHero:
    """`also`: more steps for the INSERT's transaction (an Idempotency-Key's answer)."""
    values = data.model_dump(include={"name", "secret_name", "age", "team_id"})
    touch = (_TOUCH_TEAM,) if data.team_id is not None else ()
    with _team_must_exist():
        return StoredHero(*await rows.create_row(database, HEROES, values, (*touch, *also)))


async def get_hero(database: Database, hero_id: int) -> StoredHero:
    return StoredHero(*await rows.get_row(database, HEROES, hero_id))


async def list_heroes(database: Database, query: ListQuery) -> Page:
    """A page of heroes as the query asks, with their total if it asks for one."""
    return await fetch_page(database, HEROES, query)


async def update_hero(
    database: Database,
    hero_id: int,
    changes: HeroUpdate,
    expected: Expected = None,
    also: Sequence[Also] = (),
) -> StoredHero:
    """Only the fields sent change; an empty PATCH changes nothing (and runs no `also`)."""
    values = changes.model_dump(exclude_unset=True)
    touch = _TOUCH_OLD_AND_NEW_TEAM if "team_id" in values else _TOUCH_TEAM
    change = rows.Change(values, expected, (touch, *also))
    with _team_must_exist():
        return StoredHero(*await rows.update_row(database, HEROES, hero_id, change))


async def delete_hero(database: Database, hero_id: int, expected: Expected = None) -> None:
    await rows.delete_row(database, HEROES, hero_id, expected, (_TOUCH_TEAM,))


def release_from_team(team_id: int) -> Also:
    """The step that makes a team's heroes leave it, run first in the team's deletion:
    each one's version and `updated_at` move."""
    return Also(
        _RELEASE,
        lambda _before, _after: {"released_from": team_id, "released_at": utc_now()},
        first=True,
    )


@contextmanager
def _team_must_exist() -> Iterator[None]:
    """The foreign key's refusal of a hero's `team_id`, as HeroTeamNotFound."""
    try:
        yield
    except ConstraintViolation as violation:
        if violation.kind != "foreign_key":
            raise
        raise HeroTeamNotFound from violation
