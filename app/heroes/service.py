"""Hero use cases: each function takes the database first and is one unit of work.

The service sets the timestamps and bumps the version on every change; a conditional
change or delete (`expected` versions, from If-Match) compares and sets in the same
statement (app/kit/rows.py says how races resolve).

A team's answer lists its heroes, so a write that changes what it lists touches the team
(its version and `updated_at` move) in the write's own transaction: a hero joining,
leaving or moving, and a change to or the deletion of one of its heroes. A hero that
names a team that does not exist is refused by the foreign key: HeroTeamNotFound.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from app.db import Database, Row
from app.db.errors import ConstraintViolation
from app.db.tables import utc_now
from app.heroes.errors import HeroTeamNotFound
from app.heroes.models import Hero, HeroCreate, HeroUpdate, StoredHero
from app.heroes.resource import HEROES, TEAM_PLACE, hero_team_id
from app.kit import rows
from app.kit.listing.pages import Page, fetch_page
from app.kit.listing.query import ListQuery
from app.kit.rows import Also, Expected
from app.teams.models import Team

_TOUCH_TEAM = rows.touch_statement(Team)
_RELEASE = rows.release_statement(Hero, Hero.team_id)


def _touch_teams(values: Mapping[str, Any]) -> tuple[Also, Also]:
    """The steps that touch the team the hero is in and the one `values` move it to (one
    each, in id order), ahead of the hero's own write: its teams locked before the hero,
    as a team's deletion locks them (app/kit/rows.py, `Also`)."""

    def params_of(place: int) -> Callable[[Row | None, Row | None], Any]:
        def params(before: Row | None, _after: Row | None) -> Any:
            now = before[TEAM_PLACE] if before else None
            return rows.touch_params(place, now, values.get("team_id", now))

        return params

    return (
        Also(_TOUCH_TEAM, params_of(0), refers_by=hero_team_id),
        Also(_TOUCH_TEAM, params_of(1), refers_by=hero_team_id),
    )


_TOUCH_HEROS_TEAM = _touch_teams({})


async def create_hero(
    database: Database,
    data: HeroCreate,
    also: Sequence[Also] = (),
    *,
    owner_id: int | None = None,
) -> StoredHero:
    """`also`: more steps for the INSERT's transaction (an Idempotency-Key's answer);
    `owner_id`: the signed-in user creating it, if any."""
    values = data.model_dump(include={"name", "secret_name", "age", "team_id"})
    if owner_id is not None:
        values["owner_id"] = owner_id
    touch = _touch_teams(values) if data.team_id is not None else ()
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
    change = rows.Change(values, expected, (*_touch_teams(values), *also))
    with _team_must_exist():
        return StoredHero(*await rows.update_row(database, HEROES, hero_id, change))


async def delete_hero(database: Database, hero_id: int, expected: Expected = None) -> None:
    await rows.delete_row(database, HEROES, hero_id, expected, _TOUCH_HEROS_TEAM)


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
