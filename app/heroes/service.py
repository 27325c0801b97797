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

from sqlalchemy import bindparam, select

from app.db import Database, Row
from app.db.errors import ConstraintViolation
from app.db.statements import Statement
from app.db.tables import utc_now
from app.heroes.errors import HeroTeamNotFound
from app.heroes.models import (
    HERO_LOG,
    Hero,
    HeroBatch,
    HeroBatchChange,
    HeroCreate,
    HeroUpdate,
    StoredHero,
)
from app.heroes.resource import HERO_HISTORY, HEROES, TEAM_PLACE, hero_team_id
from app.kit import rows
from app.kit.batch.items import Author, read_items
from app.kit.batch.writes import BatchWrites, Outcome, Touches, write_batch
from app.kit.changes.log import NO_ORIGIN, Origin
from app.kit.listing.pages import Page, fetch_page
from app.kit.listing.query import ListQuery
from app.kit.rows import Also, Expected
from app.teams.models import TEAM_LOG

_RELEASE = rows.release_statement(Hero, Hero.team_id)
_MEMBERS = Statement(
    select(*HEROES.stored)
    .where(hero_team_id == bindparam("released_from"))
    .order_by(HEROES.id)
    .with_for_update()
)
_RELEASED = rows.recorded_update(HERO_LOG, HEROES.change_places, {"team_id": None})


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
        rows.touch(TEAM_LOG, params_of(0), refers_by=hero_team_id, changed=_TEAM_SHOWS),
        rows.touch(TEAM_LOG, params_of(1), refers_by=hero_team_id, changed=_TEAM_SHOWS),
    )


_TEAM_SHOWS = ("heroes",)
"""What a team's change is when one of its heroes changes: its answer lists them."""


_TOUCH_HEROS_TEAM = _touch_teams({})


async def create_hero(
    database: Database,
    data: HeroCreate,
    also: Sequence[Also] = (),
    *,
    owner_id: int | None = None,
    origin: Origin = NO_ORIGIN,
) -> StoredHero:
    """`also`: more steps for the INSERT's transaction (an Idempotency-Key's answer);
    `owner_id`: the signed-in user creating it, if any; `origin`: who and which request,
    for the change log."""
    values = data.model_dump(include={"name", "secret_name", "age", "team_id"})
    if owner_id is not None:
        values["owner_id"] = owner_id
    touch = _touch_teams(values) if data.team_id is not None else ()
    with _team_must_exist():
        row = await rows.create_row(database, HEROES, values, (*touch, *also), origin=origin)
    return StoredHero(*row)


async def get_hero(database: Database, hero_id: int) -> StoredHero:
    return StoredHero(*await rows.get_row(database, HEROES, hero_id))


async def list_heroes(database: Database, query: ListQuery) -> Page:
    """A page of heroes as the query asks, with their total if it asks for one."""
    return await fetch_page(database, HEROES, query)


async def update_hero(  # noqa: PLR0913  # `origin` only says who, for the change log
    database: Database,
    hero_id: int,
    changes: HeroUpdate,
    expected: Expected = None,
    also: Sequence[Also] = (),
    *,
    origin: Origin = NO_ORIGIN,
) -> StoredHero:
    """Only the fields sent change; an empty PATCH changes nothing (and runs no `also`)."""
    values = changes.model_dump(exclude_unset=True)
    change = rows.Change(values, expected, (*_touch_teams(values), *also))
    with _team_must_exist():
        row = await rows.update_row(database, HEROES, hero_id, change, origin=origin)
    return StoredHero(*row)


async def hero_history(database: Database, hero_id: int, query: ListQuery) -> list[Row]:
    """A page of the hero's recorded changes, oldest first (HeroNotFound if it has none
    and does not exist)."""
    return await HERO_HISTORY.page(database, hero_id, query)


async def restore_hero(  # noqa: PLR0913  # `origin` only says who, for the change log
    database: Database,
    hero_id: int,
    version: int | None,
    expected: Expected = None,
    also: Sequence[Also] = (),
    *,
    origin: Origin = NO_ORIGIN,
) -> StoredHero:
    """Bring back the hero's state at `version` (None: its last before its deletion) as
    its next version, touching the teams it leaves and joins as a change does; a deleted
    hero comes back under its id with its secret_name. A team that is gone is not
    rejoined (app/kit/rows.py, `restore_row`)."""
    restoring = await rows.plan_restore(database, HEROES, hero_id, version, expected)
    touch = _touch_teams(restoring.values)
    row = await rows.restore_row(database, HEROES, restoring, (*touch, *also), origin=origin)
    return StoredHero(*row)


async def delete_hero(
    database: Database, hero_id: int, expected: Expected = None, *, origin: Origin = NO_ORIGIN
) -> None:
    await rows.delete_row(database, HEROES, hero_id, expected, _TOUCH_HEROS_TEAM, origin=origin)


def release_from_team(team_id: int) -> tuple[Also, Also]:
    """The steps that make a team's heroes leave it, run first in the team's deletion:
    their rows locked and read, in id order, for the change log, then each one's team
    cleared and its version and `updated_at` moved."""
    params = {"released_from": team_id, "released_at": utc_now()}
    return (
        Also(
            _MEMBERS, lambda _before, _after: params, first=True, returns="rows", records=_RELEASED
        ),
        Also(_RELEASE, lambda _before, _after: params, first=True),
    )


def _refusal(violation: ConstraintViolation) -> Exception:
    """A constraint's refusal of a batch's hero: its team does not exist."""
    if violation.kind != "foreign_key":
        raise violation
    return HeroTeamNotFound()


HERO_BATCHES = BatchWrites(HEROES, _refusal, Touches(hero_team_id, TEAM_LOG, _TEAM_SHOWS))
"""A batch touches the teams its heroes join, leave or are in when they change, once each,
locking them first as a single write does."""


async def write_heroes(
    database: Database,
    batch: HeroBatch,
    author: Author,
    also: Sequence[Also] = (),
    *,
    origin: Origin = NO_ORIGIN,
) -> Outcome:
    """Create and change heroes in one transaction (app/kit/batch/writes.py): each create
    as `create_hero`, each change as `update_hero`, their teams touched once each."""

    def new_values(data: HeroCreate) -> dict[str, Any]:
        values = data.model_dump(include={"name", "secret_name", "age", "team_id"})
        return values if author.user_id is None else values | {"owner_id": author.user_id}

    def change_values(data: HeroBatchChange) -> dict[str, Any]:
        return data.model_dump(exclude_unset=True, exclude={"id", "version"})

    items = read_items(
        batch.items,
        author,
        change=HeroBatchChange,
        new_values=new_values,
        change_values=change_values,
    )
    return await write_batch(
        database, HERO_BATCHES, items, atomic=batch.atomic, also=also, origin=origin
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
