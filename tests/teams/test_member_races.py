"""Heroes racing into and out of one team resolve in the database, on every backend: no
answer is a 5xx, none is lost, and no hero is left naming a team that is gone."""

from collections import Counter
from functools import partial
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.heroes.models import Hero
from tests.racing import TIMEOUT, Call, race

JOINERS = 16


def create_team(client: TestClient, name: str) -> int:
    answer = client.post("/teams/", json={"name": name, "headquarters": "Sharp Tower"})
    assert answer.status_code == 200, answer.text
    team_id: int = answer.json()["id"]
    return team_id


def joiner(team_id: int, number: int) -> dict[str, Any]:
    return {"name": f"Joiner {number}", "secret_name": "s", "team_id": team_id}


def join(client: TestClient, team_id: int, number: int) -> Call:
    return lambda: client.post("/heroes/", json=joiner(team_id, number))


def test_heroes_joining_one_team_at_once_all_join_and_each_moves_its_version(
    client: TestClient,
) -> None:
    team_id = create_team(client, "Preventers")
    answers = race([join(client, team_id, number) for number in range(JOINERS)])
    assert Counter(answer.status_code for answer in answers) == {200: JOINERS}
    team = client.get(f"/teams/{team_id}")
    assert len(team.json()["heroes"]) == JOINERS
    assert team.headers["ETag"] == f'"{team_id}.{1 + JOINERS}"'


def test_heroes_joining_a_team_being_deleted_join_before_it_or_are_refused(
    client: TestClient, session: Session
) -> None:
    team_id = create_team(client, "Z-Force")
    calls = [join(client, team_id, number) for number in range(JOINERS)]
    calls.insert(JOINERS // 2, lambda: client.delete(f"/teams/{team_id}"))
    answers = race(calls)
    deleted = answers.pop(JOINERS // 2)
    assert deleted.status_code == 200, deleted.text
    assert {answer.status_code for answer in answers} <= {200, 422}
    stored = session.exec(select(Hero).where(col(Hero.name).startswith("Joiner"))).all()
    assert len(stored) == sum(answer.status_code == 200 for answer in answers)
    assert [hero.team_id for hero in stored] == [None] * len(stored)


def test_heroes_moving_between_two_teams_at_once_all_move_and_touch_both(
    live_server: str,
) -> None:
    # Through the service in its own process: the in-process client does not send these
    # together closely enough to make MariaDB's foreign-key locks collide.
    limits = httpx.Limits(max_connections=64)
    with httpx.Client(base_url=live_server, timeout=TIMEOUT, limits=limits) as service:
        teams = [
            service.post("/teams/", json={"name": name, "headquarters": "h"}).json()["id"]
            for name in ("Preventers", "Z-Force")
        ]
        heroes = [
            service.post("/heroes/", json=joiner(teams[number % 2], number)).json()["id"]
            for number in range(12)
        ]
        # Each hero is sent to the other team three times: a move (both teams touched),
        # then changes that leave it where it is (its team touched).
        calls: list[Call] = [
            partial(service.patch, f"/heroes/{hero}", json={"team_id": teams[(number + 1) % 2]})
            for _ in range(3)
            for number, hero in enumerate(heroes)
        ]
        answers = race(calls)
        assert Counter(answer.status_code for answer in answers) == {200: len(calls)}
        for team_id in teams:
            # created, 6 joined, 12 moves out of it or into it, 6 heroes left in it twice
            assert service.get(f"/teams/{team_id}").headers["ETag"] == f'"{team_id}.31"'
