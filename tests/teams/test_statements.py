"""Relationships are loaded explicitly, in a fixed number of statements, on every backend:
a team with its heroes costs 1 (the team and its heroes read together), however many
heroes it has, and so does its 304; a page of heroes with `?expand=team` at most 2 (3 with
its total). And nothing loads lazily
behind the code's back: the ORM's relationship attributes refuse to.

Statements are counted as tests/statements.py says.
"""

from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.exc import InvalidRequestError
from sqlmodel import Session

from app.heroes.models import Hero
from app.teams.models import Team
from tests.factories import make_hero, make_team, stored_id
from tests.statements import Counted


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
