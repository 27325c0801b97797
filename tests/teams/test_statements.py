"""Relationships are loaded explicitly, in a fixed number of statements, on every backend:
a team with its heroes costs 1 (the team and its heroes read together), however many
heroes it has, and so does its 304; a page of heroes with `?expand=team` at most 2 (3 with
its total). And nothing loads lazily
behind the code's back: the ORM's relationship attributes refuse to.

Statements are counted by a `Database` that wraps the app's own (each of its calls is one
statement: app/db/database.py), and, where the backend runs them through SQLAlchemy's
engine (MariaDB), by the engine's own event as well.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, insert
from sqlalchemy.exc import InvalidRequestError
from sqlmodel import Session

from app.db import Database, PoolUsage, Row
from app.db.database import Step
from app.db.statements import Params, Statement
from app.heroes.models import Hero
from app.kit.changes.sequencer import Sequencer
from app.teams.models import Team
from tests.factories import make_hero, make_team, stored_id


class CountingDatabase(Database):
    """The app's database, counting the statements each call runs."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.statements = 0

    async def fetch_one(self, query: Statement, params: Params) -> Row | None:
        self.statements += 1
        return await self.inner.fetch_one(query, params)

    async def fetch_all(self, query: Statement, params: Params) -> list[Row]:
        self.statements += 1
        return await self.inner.fetch_all(query, params)

    async def write(self, statement: Statement, params: Params) -> int:
        self.statements += 1
        return await self.inner.write(statement, params)

    async def write_returning(self, statement: Statement, params: Params) -> Row | None:
        self.statements += 1
        return await self.inner.write_returning(statement, params)

    async def update_returning(
        self, statement: Statement, reread: Statement, params: Params
    ) -> Row | None:
        self.statements += 1
        return await self.inner.update_returning(statement, reread, params)

    async def transaction(self, steps: Sequence[Step]) -> list[Any]:
        results = await self.inner.transaction(steps)
        self.statements += len(steps)
        return results

    def pool_usage(self) -> PoolUsage:
        return self.inner.pool_usage()

    async def aclose(self) -> None:
        await self.inner.aclose()


class Counted:
    """The statements the app ran since `reset`: by the wrapper, and by the engine when
    the app's statements go through it."""

    def __init__(self, database: CountingDatabase, engine: Engine) -> None:
        self.database = database
        self.engine_statements = 0
        self.through_engine = engine.dialect.name in {"mysql", "mariadb"}
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.engine_statements += 1

    def reset(self) -> None:
        self.database.statements = 0
        self.engine_statements = 0

    def get(self, client: TestClient, url: str, **headers: str) -> Any:
        """GET `url`, checking its status; the statements it cost."""
        settle_changes(client)
        self.reset()
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        if self.through_engine:
            assert self.engine_statements == self.database.statements
        return self.database.statements


def settle_changes(client: TestClient) -> None:
    """Let the round of numbering that an earlier test's writes asked for run now: it runs
    in the background on the engine, and must not be counted as the next request's."""
    sequencer: Sequencer = client.app.state.change_sequencer  # type: ignore[attr-defined]
    assert client.portal is not None  # the client is running
    client.portal.call(sequencer.settle)


@pytest.fixture
def counted(client: TestClient, clean_db: Engine) -> Iterator[Counted]:
    app: Any = client.app
    inner = app.state.database
    counting = CountingDatabase(inner)
    counter = Counted(counting, clean_db)
    app.state.database = counting
    try:
        yield counter
    finally:
        app.state.database = inner
        event.remove(clean_db, "before_cursor_execute", counter._seen)


def add_heroes(session: Session, count: int, team_ids: Sequence[int | None]) -> None:
    rows = [
        {"name": f"H{i}", "secret_name": "s", "team_id": team_ids[i % len(team_ids)]}
        for i in range(count)
    ]
    if rows:
        session.execute(insert(Hero), rows)
        session.commit()


@pytest.mark.parametrize("heroes", [0, 1, 50, 150])
def test_a_team_with_its_heroes_costs_one_statement(
    client: TestClient, session: Session, counted: Counted, heroes: int
) -> None:
    team_id = stored_id(make_team(session))
    add_heroes(session, heroes, [team_id])
    add_heroes(session, 3, [None, stored_id(make_team(session))])  # not the team's

    assert counted.get(client, f"/teams/{team_id}") == 1
    got = client.get(f"/teams/{team_id}")
    assert len(got.json()["heroes"]) == min(heroes, 100)
    counted.reset()
    revalidated = client.get(f"/teams/{team_id}", headers={"If-None-Match": got.headers["etag"]})
    assert revalidated.status_code == 304
    assert counted.database.statements == 1


def test_a_missing_team_costs_one_statement(client: TestClient, counted: Counted) -> None:
    counted.reset()
    assert client.get("/teams/9000").status_code == 404
    assert counted.database.statements == 1


@pytest.mark.parametrize("teams", [1, 7, 60, 100])
def test_a_page_of_heroes_with_their_teams_costs_at_most_two_statements(
    client: TestClient, session: Session, counted: Counted, teams: int
) -> None:
    team_ids = [stored_id(make_team(session)) for _ in range(teams)]
    add_heroes(session, 100, [*team_ids, None])

    page = client.get("/heroes/?expand=team&fields=team_id").json()
    assert len(page) == 100
    assert all(
        (hero["team"] is None) == (hero["team_id"] is None)
        and (hero["team"] is None or hero["team"]["id"] == hero["team_id"])
        for hero in page
    )
    assert counted.get(client, "/heroes/?expand=team") <= 2
    assert counted.get(client, "/heroes/?expand=team", Prefer="count=exact") <= 3
    assert counted.get(client, "/heroes/?expand=team&team_id=" + str(team_ids[0])) <= 2


def test_a_page_of_heroes_with_no_team_costs_one_statement(
    client: TestClient, session: Session, counted: Counted
) -> None:
    add_heroes(session, 20, [None])

    assert counted.get(client, "/heroes/?expand=team") == 1


def test_one_hero_with_its_team_costs_two_statements(
    client: TestClient, session: Session, counted: Counted
) -> None:
    team = make_team(session)
    hero = make_hero(session, team_id=team.id)

    assert counted.get(client, f"/heroes/{hero.id}?expand=team") == 2
    assert counted.get(client, f"/heroes/{hero.id}") == 1


# --- nothing loads lazily ------------------------------------------------------------------


def test_a_teams_heroes_never_load_lazily(session: Session) -> None:
    team = make_team(session)
    make_hero(session, team_id=team.id)

    loaded = session.get(Team, team.id)

    assert loaded is not None
    with pytest.raises(InvalidRequestError, match="lazy='raise'"):
        _ = loaded.heroes


def test_a_heros_team_never_loads_lazily(session: Session) -> None:
    team = make_team(session)
    hero = make_hero(session, team_id=team.id)

    loaded = session.get(Hero, hero.id)

    assert loaded is not None
    assert loaded.team_id == team.id
    with pytest.raises(InvalidRequestError, match="lazy='raise'"):
        _ = loaded.team  # type: ignore[attr-defined]  # made by Team.heroes' backref
