"""WRITE_POLICY and READ_POLICY on the hero routes, on every backend."""

from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.conftest import ServiceWith
from tests.factories import bearer, make_hero, make_user, read_stored, sign_in
from tests.racing import race

NEW_HERO = {"name": "Deadpond", "secret_name": "Dive Wilson"}
HERO_KEYS = {"id", "name", "age"}


def writes(hero_id: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", "/heroes/", NEW_HERO),
        ("PATCH", f"/heroes/{hero_id}", {"age": 3}),
        ("DELETE", f"/heroes/{hero_id}", None),
    ]


def test_with_the_defaults_the_tutorial_writes_without_a_token(
    client: TestClient, session: Session
) -> None:
    created = client.post("/heroes/", json=NEW_HERO)
    hero_id = created.json()["id"]

    assert created.status_code == 200
    assert client.patch(f"/heroes/{hero_id}", json={"age": 3}).status_code == 200
    assert client.delete(f"/heroes/{hero_id}").json() == {"ok": True}


def test_with_the_defaults_a_signed_in_writer_is_recorded_as_the_owner(
    client: TestClient, session: Session
) -> None:
    user = make_user(session)

    created = client.post(
        "/heroes/", json=NEW_HERO, headers=bearer(sign_in(client, user.username))
    )

    assert set(created.json()) == HERO_KEYS  # the owner is never in the body
    stored = read_stored(session, created.json()["id"])
    assert stored is not None
    assert stored.owner_id == user.id


def test_with_the_defaults_a_refused_token_is_401_not_an_anonymous_write(
    client: TestClient, session: Session
) -> None:
    response = client.post("/heroes/", json=NEW_HERO, headers={"Authorization": "Bearer x.y.z"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert client.get("/heroes/").json() == []


@pytest.mark.parametrize("policy", ["signed_in", "owner"])
def test_writes_without_a_token_are_401_with_a_bearer_challenge(
    service_with: ServiceWith, session: Session, policy: str
) -> None:
    client = service_with(write_policy=policy)
    hero = make_hero(session)
    assert hero.id is not None

    for method, url, body in writes(hero.id):
        response = client.request(method, url, json=body)
        assert response.status_code == 401, (method, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {
            "detail": "Not signed in: send Authorization: Bearer with an access token"
        }
    assert read_stored(session, hero.id) == hero
    assert client.get(f"/heroes/{hero.id}").status_code == 200  # reads stay open


def test_signed_in_lets_every_signed_in_user_write_any_hero(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(write_policy="signed_in")
    owner, other = make_user(session), make_user(session)
    created = client.post(
        "/heroes/", json=NEW_HERO, headers=bearer(sign_in(client, owner.username))
    )
    hero_id = created.json()["id"]
    headers = bearer(sign_in(client, other.username))

    assert client.patch(f"/heroes/{hero_id}", json={"age": 3}, headers=headers).status_code == 200
    assert client.delete(f"/heroes/{hero_id}", headers=headers).status_code == 200


def test_owner_lets_only_the_owner_and_admins_change_a_hero(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(write_policy="owner")
    alice, bob = make_user(session, "alice"), make_user(session, "bob")
    admin = make_user(session, "root", is_admin=True)
    as_alice, as_bob = bearer(sign_in(client, "alice")), bearer(sign_in(client, "bob"))
    as_admin = bearer(sign_in(client, "root"))
    alices = client.post("/heroes/", json=NEW_HERO, headers=as_alice).json()["id"]
    bobs = client.post("/heroes/", json=NEW_HERO, headers=as_bob).json()["id"]

    refused = client.patch(f"/heroes/{alices}", json={"age": 9}, headers=as_bob)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Only the owner or an admin may change or delete this"}
    assert client.delete(f"/heroes/{bobs}", headers=as_alice).status_code == 403
    assert client.patch(f"/heroes/{alices}", json={}, headers=as_bob).status_code == 403
    assert client.patch(f"/heroes/{alices}", json={"age": 9}, headers=as_alice).status_code == 200
    assert client.patch(f"/heroes/{bobs}", json={"age": 7}, headers=as_admin).status_code == 200
    assert client.delete(f"/heroes/{alices}", headers=as_admin).status_code == 200
    assert client.delete(f"/heroes/{bobs}", headers=as_bob).status_code == 200
    assert (alice.id, bob.id, admin.id) != (None, None, None)


def test_owner_leaves_heroes_created_anonymously_to_admins(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(write_policy="owner")
    make_user(session, "alice")
    make_user(session, "root", is_admin=True)
    hero = make_hero(session)  # created before users, or under WRITE_POLICY=anyone

    as_alice = bearer(sign_in(client, "alice"))
    assert client.patch(f"/heroes/{hero.id}", json={"age": 1}, headers=as_alice).status_code == 403
    as_admin = bearer(sign_in(client, "root"))
    assert client.patch(f"/heroes/{hero.id}", json={"age": 1}, headers=as_admin).status_code == 200


def test_owner_answers_404_before_403_and_403_before_412(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(write_policy="owner")
    alice, _ = make_user(session, "alice"), make_user(session, "bob")
    hero = make_hero(session, owner_id=alice.id)
    as_alice, as_bob = bearer(sign_in(client, "alice")), bearer(sign_in(client, "bob"))
    stale = {"If-Match": f'"{hero.id}.99"'}

    assert client.patch("/heroes/999999", json={"age": 1}, headers=as_bob).status_code == 404
    assert client.delete("/heroes/999999", headers=as_bob).status_code == 404
    assert client.patch(f"/heroes/{hero.id}", json={}, headers=as_bob | stale).status_code == 403
    assert client.delete(f"/heroes/{hero.id}", headers=as_bob | stale).status_code == 403
    changed = client.patch(f"/heroes/{hero.id}", json={"age": 1}, headers=as_alice | stale)
    assert changed.status_code == 412
    assert changed.headers["etag"] == f'"{hero.id}.1"'
    assert client.delete(f"/heroes/{hero.id}", headers=as_alice | stale).status_code == 412


def test_a_deleted_users_heroes_are_left_to_admins(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(write_policy="owner")
    alice = make_user(session, "alice")
    make_user(session, "root", is_admin=True)
    hero = make_hero(session, owner_id=alice.id)
    as_admin = bearer(sign_in(client, "root"))

    assert client.delete(f"/users/{alice.id}", headers=as_admin).status_code == 200

    stored = read_stored(session, hero.id)
    assert stored is not None
    assert stored.owner_id is None


def test_read_policy_signed_in_needs_a_token_to_read(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(read_policy="signed_in")
    make_user(session, "alice")
    hero = make_hero(session)

    for url in ("/heroes/", f"/heroes/{hero.id}"):
        refused = client.get(url)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
    headers = bearer(sign_in(client, "alice"))
    assert client.get("/heroes/", headers=headers).status_code == 200
    read = client.get(f"/heroes/{hero.id}", headers=headers)
    assert read.json() == {"name": hero.name, "age": hero.age, "id": hero.id}
    # Writes stay the tutorial's: WRITE_POLICY is anyone.
    assert client.post("/heroes/", json=NEW_HERO).status_code == 200


def test_the_owners_change_racing_an_admins_delete_is_200_or_404_never_500(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(write_policy="owner")
    alice = make_user(session, "alice")
    make_user(session, "root", is_admin=True)
    as_alice, as_admin = bearer(sign_in(client, "alice")), bearer(sign_in(client, "root"))
    for _ in range(5):
        hero = make_hero(session, owner_id=alice.id)
        url = f"/heroes/{hero.id}"
        changed, deleted = race(
            [
                partial(client.patch, url, json={"age": 5}, headers=as_alice),
                partial(client.delete, url, headers=as_admin),
            ]
        )
        assert changed.status_code in {200, 404}, changed.text
        assert deleted.status_code == 200, deleted.text
        assert read_stored(session, hero.id) is None


def test_owner_applies_to_teams_as_to_heroes(service_with: ServiceWith, session: Session) -> None:
    client = service_with(write_policy="owner")
    make_user(session, "alice")
    make_user(session, "bob")
    make_user(session, "root", is_admin=True)
    as_alice, as_bob = bearer(sign_in(client, "alice")), bearer(sign_in(client, "bob"))
    as_admin = bearer(sign_in(client, "root"))
    team = {"name": "Preventers", "headquarters": "Sharp Tower"}

    assert client.post("/teams/", json=team).status_code == 401
    created = client.post("/teams/", json=team, headers=as_alice)
    team_id = created.json()["id"]
    assert "owner_id" not in created.json()

    assert client.patch(f"/teams/{team_id}", json={"name": "B"}, headers=as_bob).status_code == 403
    assert client.delete(f"/teams/{team_id}", headers=as_bob).status_code == 403
    renamed = client.patch(f"/teams/{team_id}", json={"name": "A"}, headers=as_alice)
    assert renamed.status_code == 200
    assert client.delete(f"/teams/{team_id}", headers=as_admin).status_code == 200
    assert client.get(f"/teams/{team_id}").status_code == 404
