"""Team use cases: each function takes the database first and is one unit of work.

A team's version moves when its own fields change and when its heroes do (the hero
service touches it in the same transaction), so one ETag covers a team with its heroes,
which are read with it in one statement.
Deleting a team releases its heroes in the same transaction: the team's row is locked
first, so that no hero can join it meanwhile (its foreign key waits for the lock, then
refuses), then its heroes leave it, each one's version moving, then the team goes.
"""

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from app.db import Database, Row
from app.db.errors import ConstraintViolation
from app.heroes import service as heroes
from app.heroes.models import HeroSummary
from app.kit import rows
from app.kit.batch.items import Author, read_items
from app.kit.batch.writes import BatchWrites, Outcome, write_batch
from app.kit.changes.log import NO_ORIGIN, Origin
from app.kit.listing.pages import Page, fetch_page
from app.kit.listing.query import ListQuery
from app.kit.rows import Expected
from app.teams.errors import TeamNameTaken, TeamNotFound
from app.teams.models import (
    StoredTeam,
    TeamBatch,
    TeamBatchChange,
    TeamCreate,
    TeamSummary,
    TeamUpdate,
)
from app.teams.resource import TEAM_HISTORY, TEAMS, WITH_HEROES, by_ids, with_heroes

_UNIQUE_NAME = "uq_team_name"


@dataclass(frozen=True, slots=True)
class TeamWithHeroes:
    team: StoredTeam
    heroes: list[HeroSummary]


async def create_team(
    database: Database,
    data: TeamCreate,
    also: Sequence[rows.Also] = (),
    *,
    owner_id: int | None = None,
    origin: Origin = NO_ORIGIN,
) -> StoredTeam:
    """`also`: more steps for the INSERT's transaction (an Idempotency-Key's answer);
    `owner_id`: the signed-in user creating it, if any; `origin`: who and which request,
    for the change log."""
    values = data.model_dump(include={"name", "headquarters"})
    if owner_id is not None:
        values["owner_id"] = owner_id
    with _name_must_be_free():
        row = await rows.create_row(database, TEAMS, values, also, origin=origin)
    return StoredTeam(*row)


async def get_team(database: Database, team_id: int) -> TeamWithHeroes:
    """The team and the first of its heroes, read together in one statement."""
    found = with_heroes(await database.fetch_all(WITH_HEROES, {"row_id": team_id}))
    if found is None:
        raise TeamNotFound
    return TeamWithHeroes(*found)


async def team_bodies(database: Database, team_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """The bodies of these teams (those that exist), by id, in one statement."""
    if not team_ids:
        return {}
    statement, params = by_ids(team_ids)
    found = await database.fetch_all(statement, params)
    return {row[0]: TeamSummary(*row).public_body() for row in found}


async def find_team(database: Database, team_id: int) -> StoredTeam | None:
    """The team, or None if there is none (a hero's team deleted meanwhile, say)."""
    try:
        return StoredTeam(*await rows.get_row(database, TEAMS, team_id))
    except TeamNotFound:
        return None


async def list_teams(database: Database, query: ListQuery) -> Page:
    return await fetch_page(database, TEAMS, query)


async def update_team(  # noqa: PLR0913  # `origin` only says who, for the change log
    database: Database,
    team_id: int,
    changes: TeamUpdate,
    expected: Expected = None,
    also: Sequence[rows.Also] = (),
    *,
    origin: Origin = NO_ORIGIN,
) -> StoredTeam:
    """Only the fields sent change; an empty PATCH changes nothing (and runs no `also`)."""
    change = rows.Change(changes.model_dump(exclude_unset=True), expected, also)
    with _name_must_be_free():
        row = await rows.update_row(database, TEAMS, team_id, change, origin=origin)
    return StoredTeam(*row)


async def delete_team(
    database: Database, team_id: int, expected: Expected = None, *, origin: Origin = NO_ORIGIN
) -> None:
    release = heroes.release_from_team(team_id)
    await rows.delete_row(database, TEAMS, team_id, expected, release, origin=origin)


async def team_history(database: Database, team_id: int, query: ListQuery) -> list[Row]:
    """A page of the team's recorded changes, oldest first (TeamNotFound if it has none
    and does not exist)."""
    return await TEAM_HISTORY.page(database, team_id, query)


async def restore_team(  # noqa: PLR0913  # `origin` only says who, for the change log
    database: Database,
    team_id: int,
    version: int | None,
    expected: Expected = None,
    also: Sequence[rows.Also] = (),
    *,
    origin: Origin = NO_ORIGIN,
) -> StoredTeam:
    """Bring back the team's state at `version` (None: its last before its deletion) as
    its next version: the team's row only (the heroes its deletion released stay as they
    are). Its name may have been taken meanwhile: TeamNameTaken."""
    restoring = await rows.plan_restore(database, TEAMS, team_id, version, expected)
    with _name_must_be_free():
        row = await rows.restore_row(database, TEAMS, restoring, also, origin=origin)
    return StoredTeam(*row)


def _refusal(violation: ConstraintViolation) -> Exception:
    """A constraint's refusal of a batch's team: its name is taken."""
    if violation.constraint != _UNIQUE_NAME:
        raise violation
    return TeamNameTaken()


TEAM_BATCHES = BatchWrites(TEAMS, _refusal)


async def write_teams(
    database: Database,
    batch: TeamBatch,
    author: Author,
    also: Sequence[rows.Also] = (),
    *,
    origin: Origin = NO_ORIGIN,
) -> Outcome:
    """Create and change teams in one transaction (app/kit/batch/writes.py), each item as
    `create_team` or `update_team` would; a taken name refuses its item (409)."""

    def new_values(data: TeamCreate) -> dict[str, Any]:
        values = data.model_dump(include={"name", "headquarters"})
        return values if author.user_id is None else values | {"owner_id": author.user_id}

    def change_values(data: TeamBatchChange) -> dict[str, Any]:
        return data.model_dump(exclude_unset=True, exclude={"id", "version"})

    items = read_items(
        batch.items,
        author,
        change=TeamBatchChange,
        new_values=new_values,
        change_values=change_values,
    )
    return await write_batch(
        database, TEAM_BATCHES, items, atomic=batch.atomic, also=also, origin=origin
    )


@contextmanager
def _name_must_be_free() -> Iterator[None]:
    """The unique constraint's refusal of a team's name, as TeamNameTaken."""
    try:
        yield
    except ConstraintViolation as violation:
        if violation.constraint != _UNIQUE_NAME:
            raise
        raise TeamNameTaken from violation
