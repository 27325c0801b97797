"""Idempotency-Key on POST and PATCH of teams, on every backend: the same machinery as
heroes' (tests/heroes/test_idempotency.py), with a refusal of teams' own, a name taken,
stored and replayed like any 4xx the write answers."""

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.teams.models import Team
from tests.heroes.test_idempotency import KEY, REPLAYED, assert_replay_of, count
from tests.racing import race

PREVENTERS = {"name": "Preventers", "headquarters": "Sharp Tower"}


def post(client: TestClient, body: dict[str, str], key: str = KEY) -> httpx.Response:
    return client.post("/teams/", json=body, headers={"Idempotency-Key": key})


def teams_stored(session: Session) -> int:
    return count(session, Team.__table__)  # type: ignore[attr-defined]


def test_a_retried_team_post_gets_the_first_answer_and_creates_one_team(
    client: TestClient, session: Session
) -> None:
    first = post(client, PREVENTERS)
    retry = post(client, {"headquarters": "Sharp Tower", "name": "Preventers"})

    assert first.status_code == 200
    assert first.headers["location"].endswith(f"/teams/{first.json()['id']}")
    assert_replay_of(retry, first)
    assert teams_stored(session) == 1


def test_a_retried_team_patch_is_replayed_with_its_etag(client: TestClient) -> None:
    team_id = client.post("/teams/", json=PREVENTERS).json()["id"]
    patch = {"headquarters": "Sister Margaret's Bar"}

    first = client.patch(f"/teams/{team_id}", json=patch, headers={"Idempotency-Key": KEY})
    client.patch(f"/teams/{team_id}", json={"headquarters": "Elsewhere"})
    retry = client.patch(f"/teams/{team_id}", json=patch, headers={"Idempotency-Key": KEY})

    assert first.headers["etag"] == f'"{team_id}.2"'
    assert_replay_of(retry, first)
    assert client.get(f"/teams/{team_id}").json()["headquarters"] == "Elsewhere"


def test_a_name_taken_is_stored_and_replayed_like_any_4xx(
    client: TestClient, session: Session
) -> None:
    client.post("/teams/", json=PREVENTERS)

    refused = post(client, PREVENTERS)
    again = post(client, PREVENTERS)

    assert refused.status_code == 409
    assert "retry-after" not in refused.headers  # a conflict of names, not a key in flight
    assert_replay_of(again, refused)
    assert teams_stored(session) == 1


def test_sixteen_concurrent_team_posts_with_one_key_create_one_team(
    client: TestClient, session: Session
) -> None:
    answers = race([lambda: post(client, PREVENTERS) for _ in range(16)])

    assert {answer.status_code for answer in answers} <= {200, 409}
    created = [a for a in answers if a.status_code == 200 and REPLAYED not in a.headers]
    assert len(created) == 1
    assert teams_stored(session) == 1
