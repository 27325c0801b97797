"""A team's history and its restore, on every backend: its own changes and its heroes'
(recorded as updates of `heroes`), a deleted team's history readable and the team
restorable under its id, without the heroes its deletion released."""

from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.conftest import ServiceWith
from tests.factories import bearer, make_team, make_user, read_stored, read_team, sign_in
from tests.racing import race

PREVENTERS = {"name": "Preventers", "headquarters": "Sharp Tower"}
TEAM_NOT_FOUND = {"detail": "Team not found"}


def history(client: TestClient, team_id: int, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/teams/{team_id}/history", params=params)
    assert response.status_code == 200, response.text
    changes: list[dict[str, Any]] = response.json()
    return changes


def summary(changes: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(change["version"], change["op"]) for change in changes]


def create(client: TestClient, **fields: Any) -> int:
    response = client.post("/teams/", json=PREVENTERS | fields)
    assert response.status_code == 200, response.text
    team_id: int = response.json()["id"]
    return team_id


def restore(client: TestClient, team_id: int, body: Any = None, **headers: str) -> httpx.Response:
    return client.post(f"/teams/{team_id}/restore", json=body, headers=headers)


def test_a_teams_history_lists_its_changes_and_its_heroes_joining(client: TestClient) -> None:
    team_id = create(client)
    client.patch(f"/teams/{team_id}", json={"headquarters": "Sister Margaret's Bar"})
    client.post("/heroes/", json={"name": "Deadpond", "secret_name": "Dive", "team_id": team_id})
    client.delete(f"/teams/{team_id}")

    changes = history(client, team_id)

    assert summary(changes) == [(1, "create"), (2, "update"), (3, "update"), (4, "delete")]
    assert changes[0]["data"] == {"id": team_id} | PREVENTERS
    assert changes[1]["data"]["headquarters"] == "Sister Margaret's Bar"
    assert changes[3]["data"] == changes[2]["data"]
    assert all(
        set(change) == {"version", "op", "data", "changed_at", "actor"} for change in changes
    )


def test_a_team_that_never_existed_has_no_history_and_no_restore(client: TestClient) -> None:
    assert client.get("/teams/4242/history").json() == TEAM_NOT_FOUND
    response = restore(client, 4242)

    assert (response.status_code, response.json()) == (404, TEAM_NOT_FOUND)


def test_a_team_written_before_changes_were_recorded_has_an_empty_history(
    client: TestClient, session: Session
) -> None:
    team = make_team(session)
    assert team.id is not None

    assert history(client, team.id) == []


def test_a_deleted_team_comes_back_under_its_id_without_its_released_heroes(
    client: TestClient, session: Session
) -> None:
    team_id = create(client)
    hero = client.post(
        "/heroes/", json={"name": "Deadpond", "secret_name": "D", "team_id": team_id}
    )
    client.delete(f"/teams/{team_id}")

    response = restore(client, team_id)

    assert response.status_code == 200
    assert response.json() == {"id": team_id} | PREVENTERS
    assert response.headers["etag"] == f'"{team_id}.4"'
    assert client.get(f"/teams/{team_id}").json()["heroes"] == []
    released = read_stored(session, hero.json()["id"])
    assert released is not None
    assert released.team_id is None
    assert summary(history(client, team_id))[-1] == (4, "restore")


def test_a_team_is_restored_to_an_older_version(client: TestClient, session: Session) -> None:
    team_id = create(client)
    client.patch(f"/teams/{team_id}", json={"name": "Avengers"})

    response = restore(client, team_id, {"version": 1})

    assert response.json()["name"] == "Preventers"
    stored = read_team(session, team_id)
    assert stored is not None
    assert (stored.name, stored.version) == ("Preventers", 3)


def test_a_deleted_team_whose_name_was_taken_meanwhile_is_409(
    client: TestClient, session: Session
) -> None:
    team_id = create(client)
    client.delete(f"/teams/{team_id}")
    create(client)  # another team takes the name

    response = restore(client, team_id)

    assert response.status_code == 409
    assert response.json() == {"detail": "A team with this name already exists"}
    assert read_team(session, team_id) is None
    assert summary(history(client, team_id))[-1] == (2, "delete")


def test_of_racing_restores_of_a_deleted_team_exactly_one_wins(client: TestClient) -> None:
    team_id = create(client)
    client.delete(f"/teams/{team_id}")
    tag = {"If-Match": f'"{team_id}.2"'}

    responses = race([lambda: restore(client, team_id, **tag) for _ in range(8)])

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * 7, [response.text for response in responses]
    assert summary(history(client, team_id)) == [(1, "create"), (2, "delete"), (3, "restore")]


@pytest.mark.parametrize("deleted_first", [False, True])
def test_under_the_owner_policy_only_the_owner_or_an_admin_restores_a_team(
    service_with: ServiceWith, session: Session, deleted_first: bool
) -> None:
    client = service_with(write_policy="owner")
    make_user(session, "alice")
    make_user(session, "bob")
    make_user(session, "root", is_admin=True)
    as_alice, as_bob = bearer(sign_in(client, "alice")), bearer(sign_in(client, "bob"))
    team_id = client.post("/teams/", json=PREVENTERS, headers=as_alice).json()["id"]
    body = None
    if deleted_first:
        client.delete(f"/teams/{team_id}", headers=as_alice)
    else:
        client.patch(f"/teams/{team_id}", json={"name": "Avengers"}, headers=as_alice)
        body = {"version": 1}

    assert restore(client, team_id, body, **as_bob).status_code == 403
    assert restore(client, team_id, body, **as_alice).status_code == 200
    as_admin = bearer(sign_in(client, "root"))
    assert restore(client, team_id, {"version": 1}, **as_admin).status_code == 200
