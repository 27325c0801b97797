"""Batches racing each other and single writes on the same heroes and teams, through the
service in its own process, on every backend: no deadlock (a 503 would be one that
outlasted its retries), no answer a 5xx, every version of every row recorded once, and
each batch's changes at consecutive positions. And a batch whose first read of its heroes'
teams is out of date by the time it locks them runs again."""

from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import partial
from typing import Any

import httpx2 as httpx
from sqlalchemy import Engine, literal
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from app.config import Settings
from app.db import Database
from app.db.database import Step
from app.db.statements import Statement
from app.heroes import service as heroes
from app.heroes.models import Hero, HeroBatch
from app.kit.batch.items import Author
from app.kit.batch.writes import Outcome, Written
from app.kit.changes.models import ChangeRecord
from app.teams.models import Team
from tests.db.test_transactions import run
from tests.factories import make_hero, make_team, read_team, stored_id
from tests.heroes.test_idempotency import HeldDatabase
from tests.racing import TIMEOUT, Call, race

ROUNDS = 3
HEROES_PER_TEAM = 4


def created(service: httpx.Client, path: str, body: dict[str, Any]) -> int:
    answer = service.post(path, json=body)
    assert answer.status_code == 200, answer.text
    row_id: int = answer.json()["id"]
    return row_id


def batch_call(service: httpx.Client, items: list[dict[str, Any]], request_id: str) -> Call:
    return partial(
        service.post, "/heroes/batch", json={"items": items}, headers={"X-Request-ID": request_id}
    )


def calls_of_a_round(
    service: httpx.Client, teams: list[int], heroes: list[int], doomed: int, number: int
) -> list[Call]:
    """Four batches moving half the heroes between the teams, each in another order, and
    changing the other half where they are; single PATCHes moving that other half, POSTs
    joining the teams, a team's own change, and (first round) the deletion of a team whose
    heroes the batches move out. (A hero that batches and single PATCHes both keep moving
    can make a PATCH's three attempts all find it moved: a 503 worth a retry, as between
    single PATCHes, and no deadlock.)"""
    moved, kept = heroes[::2], heroes[1::2]
    calls: list[Call] = []
    for order in range(4):
        ordered = moved[order:] + moved[:order]
        if order % 2:
            ordered.reverse()
        items: list[dict[str, Any]] = [
            {"id": hero, "team_id": teams[(place + order) % 2], "age": order}
            for place, hero in enumerate(ordered)
        ]
        items += [{"id": hero, "age": order} for hero in reversed(kept)]
        items.append({"name": f"Batch {number}.{order}", "secret_name": "s", "team_id": teams[0]})
        calls.append(batch_call(service, items, f"batch-{number}-{order}"))
    for place, hero in enumerate(kept):
        body = {"team_id": teams[(place + number) % 2], "name": f"Single {number}.{place}"}
        calls.append(partial(service.patch, f"/heroes/{hero}", json=body))
    for team in teams:
        joiner = {"name": f"Joiner {number}", "secret_name": "s", "team_id": team}
        calls.append(partial(service.post, "/heroes/", json=joiner))
    calls.append(partial(service.patch, f"/teams/{teams[1]}", json={"headquarters": f"{number}"}))
    if number == 0:
        calls.append(partial(service.delete, f"/teams/{doomed}"))
    return calls


def stored_id_of(row_id: int | None) -> int:
    assert row_id is not None, "a stored row has an id"
    return row_id


def assert_every_version_recorded_once(session: Session) -> None:
    """Each row's recorded versions are 1, 2, ... with no gap and no repeat, and a live
    row is at its last recorded version."""
    session.rollback()
    recorded: dict[tuple[str, int], list[int]] = defaultdict(list)
    for change in session.exec(select(ChangeRecord).order_by(col(ChangeRecord.position))):
        recorded[(change.resource, change.row_id)].append(change.version)
    for key, versions in recorded.items():
        assert versions == list(range(1, len(versions) + 1)), key
    live = [("heroes", hero.id, hero.version) for hero in session.exec(select(Hero))]
    live += [("teams", team.id, team.version) for team in session.exec(select(Team))]
    for resource, row_id, version in live:
        assert recorded[(resource, stored_id_of(row_id))][-1] == version, (resource, row_id)


def assert_each_batch_recorded_in_order(session: Session) -> None:
    """Every change is numbered, and a batch's changes are in the order it recorded them
    (other writes' changes, numbered in the same round, may come between them)."""
    session.rollback()
    by_request: dict[str, list[int]] = defaultdict(list)
    for change in session.exec(select(ChangeRecord).order_by(col(ChangeRecord.seq))):
        if change.request_id is not None and change.request_id.startswith("batch-"):
            assert change.position is not None, change.request_id
            by_request[change.request_id].append(change.position)
    assert len(by_request) == 4 * ROUNDS
    for request_id, positions in by_request.items():
        assert positions == sorted(positions), request_id


def test_batches_racing_single_writes_never_deadlock_and_record_every_change(
    live_server: str, session: Session
) -> None:
    limits = httpx.Limits(max_connections=64)
    with httpx.Client(base_url=live_server, timeout=TIMEOUT, limits=limits) as service:
        teams = [created(service, "/teams/", {"name": n, "headquarters": "h"}) for n in "AB"]
        doomed = created(service, "/teams/", {"name": "C", "headquarters": "h"})
        heroes = [
            created(service, "/heroes/", {"name": f"H{n}", "secret_name": "s", "team_id": team})
            for n, team in enumerate([*teams, doomed] * HEROES_PER_TEAM)
        ]
        for number in range(ROUNDS):
            answers = race(calls_of_a_round(service, teams, heroes, doomed, number))
            statuses = Counter(answer.status_code for answer in answers)
            assert statuses == {200: len(answers)}, [a.text for a in answers if a.is_error]
            for answer in answers[:4]:
                assert [r["status"] for r in answer.json()["results"]] == [200] * 13
        assert service.get("/changes").status_code == 200  # waits until all are numbered

    assert_every_version_recorded_once(session)
    assert_each_batch_recorded_in_order(session)
    session.rollback()
    assert session.get(Team, doomed) is None
    assert all(hero.team_id in teams for hero in session.exec(select(Hero)))


class StaleFirstRead(HeldDatabase):
    """The app's database, never held; in its first transaction, the batch's first read
    (its step 1: which teams the changed heroes are in) says `hero` is in `team`."""

    def __init__(self, inner: Database, hero: int, team: int) -> None:
        super().__init__(inner)
        self.waiting.set()
        columns: list[Any] = [literal(hero), literal(team)]
        self.stale = Step.rows(Statement(core_select(*columns)), {})
        self.transactions = 0

    async def transaction(self, steps: Sequence[Step]) -> list[Any]:
        self.transactions += 1
        if self.transactions == 1:
            steps = [steps[0], self.stale, *steps[2:]]
        return await self.inner.transaction(steps)


def test_a_batch_that_finds_a_hero_in_a_team_it_did_not_lock_runs_again(
    settings: Settings, clean_db: Engine, session: Session
) -> None:
    real, stale = make_team(session), make_team(session)
    hero = make_hero(session, team_id=real.id)
    body = HeroBatch.model_validate({"items": [{"id": hero.id, "age": 1}]})

    async def work(database: Database) -> tuple[int, Outcome]:
        # As if the hero had moved from `stale` to `real` between the read and its lock.
        moved = StaleFirstRead(database, stored_id(hero), stored_id(stale))
        outcome = await heroes.write_heroes(moved, body, Author())
        return moved.transactions, outcome

    transactions, outcome = run(settings, clean_db, work)

    assert transactions == 2
    assert [result.row[-1] for result in outcome.results if isinstance(result, Written)] == [2]
    assert (read_team(session, real.id) or real).version == 2  # the team it is in: touched
    assert (read_team(session, stale.id) or stale).version == 1
