"""A hero's history and its restore, on every backend: every recorded version, oldest
first and paged as lists are; a deleted hero's history readable and the hero restorable
under its id, its secret kept in the database and never answered; restores compared and
set like PATCH, and racing restores decided by the database."""

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, delete, select

from app.heroes.models import Hero
from app.heroes.resource import HEROES
from app.kit import rows
from app.kit.changes.errors import RestoreConflict
from app.kit.changes.models import ChangeRecord
from app.users.models import User
from tests.conftest import ServiceWith
from tests.factories import bearer, make_hero, make_user, read_stored, read_team, sign_in
from tests.racing import race

DEADPOND = {"name": "Deadpond", "age": 28, "secret_name": "Dive Wilson"}
CHANGE_KEYS = {"version", "op", "data", "changed_at", "actor"}
HERO_NOT_FOUND = {"detail": "Hero not found"}
RESTORE_CONFLICT = {
    "detail": "It was restored, changed or deleted meanwhile: read its history and try again"
}


def etag(hero_id: int, version: int) -> str:
    return f'"{hero_id}.{version}"'


def history(client: TestClient, hero_id: int, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/heroes/{hero_id}/history", params=params)
    assert response.status_code == 200, response.text
    changes: list[dict[str, Any]] = response.json()
    return changes


def summary(changes: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(change["version"], change["op"]) for change in changes]


def create(client: TestClient, **fields: Any) -> int:
    response = client.post("/heroes/", json=DEADPOND | fields)
    assert response.status_code == 200, response.text
    hero_id: int = response.json()["id"]
    return hero_id


def restore(client: TestClient, hero_id: int, body: Any = None, **headers: str) -> httpx.Response:
    return client.post(f"/heroes/{hero_id}/restore", json=body, headers=headers)


def next_link(response: httpx.Response) -> str | None:
    found = re.search(r'<([^>]*)>; rel="next"', response.headers.get("link", ""))
    return found.group(1) if found else None


def stored(session: Session, hero_id: int) -> Hero:
    hero = read_stored(session, hero_id)
    assert hero is not None
    return hero


def recorded(session: Session, hero_id: int) -> list[ChangeRecord]:
    session.rollback()
    query = select(ChangeRecord).where(
        col(ChangeRecord.resource) == "heroes", col(ChangeRecord.row_id) == hero_id
    )
    return list(session.exec(query.order_by(col(ChangeRecord.version))))


@pytest.fixture
def deleted(client: TestClient) -> int:
    """A hero created (v1), changed (v2) and deleted (v3)."""
    hero_id = create(client)
    assert client.patch(f"/heroes/{hero_id}", json={"age": 29}).status_code == 200
    assert client.delete(f"/heroes/{hero_id}").status_code == 200
    return hero_id


# --- history -------------------------------------------------------------------------------


def test_history_lists_each_change_oldest_first_with_versions_rising_by_one(
    client: TestClient,
) -> None:
    hero_id = create(client)
    client.patch(f"/heroes/{hero_id}", json={"name": "Deadpool"})
    client.patch(f"/heroes/{hero_id}", json={"age": None})

    changes = history(client, hero_id)

    assert summary(changes) == [(1, "create"), (2, "update"), (3, "update")]
    assert all(set(change) == CHANGE_KEYS for change in changes)
    assert [change["data"] for change in changes] == [
        {"id": hero_id, "name": "Deadpond", "age": 28, "team_id": None},
        {"id": hero_id, "name": "Deadpool", "age": 28, "team_id": None},
        {"id": hero_id, "name": "Deadpool", "age": None, "team_id": None},
    ]
    assert {change["actor"] for change in changes} == {None}
    times = [datetime.fromisoformat(change["changed_at"]) for change in changes]
    assert times == sorted(times)
    assert all(time.utcoffset() is not None and not time.utcoffset() for time in times)


def test_a_deleted_heroes_history_stays_readable_and_ends_with_its_last_state(
    client: TestClient, deleted: int
) -> None:
    changes = history(client, deleted)

    assert summary(changes) == [(1, "create"), (2, "update"), (3, "delete")]
    assert changes[2]["data"] == changes[1]["data"]
    assert client.get(f"/heroes/{deleted}").status_code == 404


def test_no_history_answer_holds_a_secret_name(client: TestClient, deleted: int) -> None:
    restore(client, deleted)
    client.patch(f"/heroes/{deleted}", json={"secret_name": "Wade Wilson"})

    response = client.get(f"/heroes/{deleted}/history")

    assert summary(response.json())[-2:] == [(4, "restore"), (5, "update")]
    assert "Wilson" not in response.text
    assert "secret_name" not in response.text
    assert "kept" not in response.text


def test_a_hero_that_never_existed_has_no_history(client: TestClient) -> None:
    response = client.get("/heroes/123456/history")

    assert (response.status_code, response.json()) == (404, HERO_NOT_FOUND)
    assert client.get("/heroes/123456/history?limit=0").status_code == 404


def test_a_hero_unchanged_since_before_changes_were_recorded_has_an_empty_history(
    client: TestClient, session: Session
) -> None:
    hero = make_hero(session)  # written straight to the table: no change recorded
    assert hero.id is not None

    assert history(client, hero.id) == []


def test_history_pages_by_the_cursors_of_its_link_header(client: TestClient) -> None:
    hero_id = create(client)
    for age in range(30, 34):
        client.patch(f"/heroes/{hero_id}", json={"age": age})

    pages = []
    url: str | None = f"/heroes/{hero_id}/history?limit=2"
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200
        pages.append([change["version"] for change in response.json()])
        url = next_link(response)

    assert pages == [[1, 2], [3, 4], [5]]  # a full page links on, as a list's does
    last = client.get(f"/heroes/{hero_id}/history?limit=2")
    second = client.get(str(next_link(last)))
    previous = re.search(r'<([^>]*)>; rel="prev"', second.headers["link"])
    assert previous is not None
    assert [change["version"] for change in client.get(previous.group(1)).json()] == [1, 2]


def test_a_full_last_page_links_to_an_empty_one_that_fills_as_the_hero_changes(
    client: TestClient,
) -> None:
    hero_id = create(client)
    first = client.get(f"/heroes/{hero_id}/history?limit=1")
    after = next_link(first)
    assert after is not None
    assert client.get(after).json() == []

    client.patch(f"/heroes/{hero_id}", json={"age": 1})

    assert summary(client.get(after).json()) == [(2, "update")]


def test_a_cursor_from_another_heroes_history_or_a_list_is_422(client: TestClient) -> None:
    one, other = create(client), create(client)
    client.patch(f"/heroes/{one}", json={"age": 1})
    cursor = str(next_link(client.get(f"/heroes/{one}/history?limit=1"))).split("cursor=")[1]
    listed = client.get("/heroes/?limit=1")
    list_cursor = str(next_link(listed)).split("cursor=")[1]

    for hero_id, token in ((other, cursor), (one, list_cursor), (one, "abc")):
        response = client.get(f"/heroes/{hero_id}/history", params={"cursor": token})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize(
    ("query", "location"),
    [("limit=101", ["query", "limit"]), ("limit=-1", ["query", "limit"]), ("offset=0", ["query"])],
)
def test_history_refuses_a_bad_query_string(
    client: TestClient, query: str, location: list[str]
) -> None:
    hero_id = create(client)

    response = client.get(f"/heroes/{hero_id}/history?{query}")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == location


# --- restoring a deleted hero ----------------------------------------------------------------


def test_a_deleted_hero_is_restored_under_its_id_as_a_new_version(
    client: TestClient, session: Session, deleted: int
) -> None:
    response = restore(client, deleted)

    assert response.status_code == 200
    assert response.json() == {"name": "Deadpond", "age": 29, "id": deleted}
    assert response.headers["etag"] == etag(deleted, 4)
    assert response.headers["cache-control"] == "no-cache"
    assert "last-modified" in response.headers
    assert client.get(f"/heroes/{deleted}").json() == response.json()
    assert summary(history(client, deleted))[-1] == (4, "restore")
    hero = stored(session, deleted)
    assert (hero.secret_name, hero.version) == ("Dive Wilson", 4)


def test_a_restored_hero_keeps_its_owner_and_creation_time(
    client: TestClient, session: Session
) -> None:
    user = make_user(session)
    headers = bearer(sign_in(client, user.username))
    hero_id = client.post("/heroes/", json=DEADPOND, headers=headers).json()["id"]
    before = stored(session, hero_id)
    created_at, updated_at = before.created_at, before.updated_at
    client.delete(f"/heroes/{hero_id}")

    assert restore(client, hero_id).status_code == 200

    after = stored(session, hero_id)
    assert (after.owner_id, after.created_at) == (user.id, created_at)
    assert after.updated_at > updated_at


def test_a_deleted_hero_can_be_restored_to_any_recorded_version(
    client: TestClient, deleted: int
) -> None:
    response = restore(client, deleted, {"version": 1})

    assert response.json() == {"name": "Deadpond", "age": 28, "id": deleted}
    assert history(client, deleted)[-1]["data"] == history(client, deleted)[0]["data"]


def test_an_etag_from_before_the_deletion_never_matches_the_restored_hero(
    client: TestClient, session: Session, deleted: int
) -> None:
    old = etag(deleted, 2)  # what a client read before the deletion

    refused = restore(client, deleted, **{"If-Match": old})
    assert refused.status_code == 412
    assert refused.headers["etag"] == etag(deleted, 3)  # the deletion's version

    assert restore(client, deleted, **{"If-Match": etag(deleted, 3)}).status_code == 200
    patched = client.patch(f"/heroes/{deleted}", json={"age": 1}, headers={"If-Match": old})
    assert patched.status_code == 412
    assert stored(session, deleted).version == 4


def test_if_none_match_star_restores_only_a_hero_that_does_not_exist(
    client: TestClient, deleted: int
) -> None:
    assert restore(client, deleted, **{"If-None-Match": "*"}).status_code == 200
    assert restore(client, deleted, {"version": 1}, **{"If-None-Match": "*"}).status_code == 412


def test_a_hero_that_never_existed_cannot_be_restored(client: TestClient) -> None:
    response = restore(client, 123456, {"version": 1})

    assert (response.status_code, response.json()) == (404, HERO_NOT_FOUND)


def test_a_hero_deleted_without_a_record_cannot_be_restored(
    client: TestClient, session: Session
) -> None:
    hero_id = create(client)
    session.delete(stored(session, hero_id))  # by another tool: no deletion recorded
    session.commit()

    response = restore(client, hero_id)

    assert response.status_code == 409
    assert response.json() == {"detail": "Its deletion was not recorded, so it cannot be restored"}


def test_a_restore_into_a_team_touches_the_team(client: TestClient) -> None:
    team_id = client.post("/teams/", json={"name": "Preventers", "headquarters": "HQ"}).json()[
        "id"
    ]
    hero_id = create(client, team_id=team_id)
    client.delete(f"/heroes/{hero_id}")
    version = client.get(f"/teams/{team_id}").headers["etag"]

    assert restore(client, hero_id).status_code == 200

    team = client.get(f"/teams/{team_id}")
    assert team.headers["etag"] != version
    assert [hero["id"] for hero in team.json()["heroes"]] == [hero_id]
    assert history(client, hero_id)[-1]["data"]["team_id"] == team_id


def test_a_hero_whose_team_is_gone_is_restored_without_it(
    client: TestClient, session: Session
) -> None:
    team_id = client.post("/teams/", json={"name": "Preventers", "headquarters": "HQ"}).json()[
        "id"
    ]
    hero_id = create(client, team_id=team_id)
    client.patch(f"/heroes/{hero_id}", json={"team_id": None})
    client.delete(f"/teams/{team_id}")

    response = restore(client, hero_id, {"version": 1})  # when it was in the team

    assert response.status_code == 200
    assert stored(session, hero_id).team_id is None
    assert history(client, hero_id)[-1]["data"] == {
        "id": hero_id,
        "name": "Deadpond",
        "age": 28,
        "team_id": None,
    }
    assert read_team(session, team_id) is None


def test_a_deleted_heroes_owner_that_is_gone_is_not_restored(
    client: TestClient, session: Session
) -> None:
    user = make_user(session)
    headers = bearer(sign_in(client, user.username))
    hero_id = client.post("/heroes/", json=DEADPOND, headers=headers).json()["id"]
    client.delete(f"/heroes/{hero_id}")
    session.connection().execute(delete(User).where(col(User.id) == user.id))
    session.commit()

    assert restore(client, hero_id).status_code == 200
    assert stored(session, hero_id).owner_id is None


# --- restoring a hero that exists -------------------------------------------------------------


def test_a_hero_is_restored_to_an_older_version_as_a_new_one(
    client: TestClient, session: Session
) -> None:
    hero_id = create(client)
    client.patch(f"/heroes/{hero_id}", json={"name": "Deadpool", "secret_name": "Wade"})

    response = restore(client, hero_id, {"version": 1})

    assert response.status_code == 200
    assert response.json() == {"name": "Deadpond", "age": 28, "id": hero_id}
    assert response.headers["etag"] == etag(hero_id, 3)
    assert summary(history(client, hero_id)) == [(1, "create"), (2, "update"), (3, "restore")]
    hero = stored(session, hero_id)
    assert (hero.version, hero.secret_name) == (3, "Wade")  # secrets are never recorded
    changed = recorded(session, hero_id)[-1]
    assert changed.changed == '["name","age","team_id"]'
    assert changed.kept is None


def test_a_hero_that_exists_needs_a_version_to_restore(client: TestClient) -> None:
    hero_id = create(client)

    for body in (None, {}, {"version": None}):
        response = restore(client, hero_id, body)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "version"]
        assert response.json()["detail"][0]["type"] == "missing"
    assert summary(history(client, hero_id)) == [(1, "create")]


def test_a_version_never_recorded_is_422(client: TestClient, deleted: int) -> None:
    never = {
        "detail": [
            {
                "type": "missing_reference",
                "loc": ["body", "version"],
                "msg": "Never recorded for this row: its history lists its versions",
            }
        ]
    }

    assert restore(client, deleted, {"version": 99}).json() == never
    assert restore(client, deleted).status_code == 200  # now at version 4
    future = restore(client, deleted, {"version": 5})

    assert (future.status_code, future.json()) == (422, never)
    assert len(history(client, deleted)) == 4


@pytest.mark.parametrize("version", [0, -1, 2**31, "2", 1.5, True])
def test_a_version_that_is_no_version_is_422(
    client: TestClient, deleted: int, version: object
) -> None:
    response = restore(client, deleted, {"version": version})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "version"]
    assert client.get(f"/heroes/{deleted}").status_code == 404


def test_a_restore_with_a_stale_if_match_is_412_and_changes_nothing(
    client: TestClient, session: Session
) -> None:
    hero_id = create(client)
    client.patch(f"/heroes/{hero_id}", json={"age": 1})

    response = restore(client, hero_id, {"version": 1}, **{"If-Match": etag(hero_id, 1)})

    assert response.status_code == 412
    assert response.headers["etag"] == etag(hero_id, 2)
    assert stored(session, hero_id).age == 1
    ok = restore(client, hero_id, {"version": 1}, **{"If-Match": etag(hero_id, 2)})
    assert ok.status_code == 200


@pytest.fixture
def if_match_required(client: TestClient) -> Iterator[TestClient]:
    app: Any = client.app
    options = app.state.http_options
    app.state.http_options = replace(options, require_if_match=True)
    try:
        yield client
    finally:
        app.state.http_options = options


def test_a_restore_without_if_match_is_428_when_it_is_required(
    deleted: int, if_match_required: TestClient
) -> None:
    client = if_match_required

    assert restore(client, deleted).status_code == 428
    assert restore(client, deleted, **{"If-Match": etag(deleted, 3)}).status_code == 200


def test_a_retried_restore_with_an_idempotency_key_is_replayed(
    client: TestClient, deleted: int
) -> None:
    key = {"Idempotency-Key": "f1b2c3d4-restore"}

    first = restore(client, deleted, **key)
    again = restore(client, deleted, **key)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert summary(history(client, deleted))[-1] == (4, "restore")
    assert len(history(client, deleted)) == 4


# --- races -----------------------------------------------------------------------------------


def test_of_racing_restores_of_a_deleted_hero_exactly_one_wins(
    client: TestClient, session: Session, deleted: int
) -> None:
    contenders = 8

    responses = race([lambda: restore(client, deleted) for _ in range(contenders)])

    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 1, [response.text for response in responses]
    # A loser that planned before the winner committed is refused by the database (the
    # hero's id is taken): 409. One that planned after finds a hero that exists, which
    # only a named version restores: 422.
    losers = [response.json() for response in responses if response.status_code != 200]
    assert all(
        body == RESTORE_CONFLICT or body["detail"][0]["type"] == "missing" for body in losers
    )
    assert summary(history(client, deleted))[-2:] == [(3, "delete"), (4, "restore")]
    assert stored(session, deleted).version == 4


def test_of_racing_restores_naming_the_deletion_exactly_one_wins_the_others_get_412(
    client: TestClient, deleted: int
) -> None:
    contenders = 8
    tag = {"If-Match": etag(deleted, 3)}

    responses = race(
        [lambda: restore(client, deleted, {"version": 1}, **tag) for _ in range(contenders)]
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * (contenders - 1), [r.text for r in responses]
    assert {r.headers["etag"] for r in responses if r.status_code == 412} == {etag(deleted, 4)}
    assert [op for _, op in summary(history(client, deleted))].count("restore") == 1


def test_a_restore_planned_before_another_restore_and_deletion_is_refused_by_the_log(
    client: TestClient, deleted: int
) -> None:
    """Restored (v4) and deleted again (v5) after a restore was planned on the first
    deletion: that one would bring the hero back at v4, which the change log's unique
    key refuses."""
    app: Any = client.app
    database = app.state.database
    portal = client.portal
    assert portal is not None
    stale = portal.call(rows.plan_restore, database, HEROES, deleted, None, None)
    restore(client, deleted)
    client.delete(f"/heroes/{deleted}")

    with pytest.raises(RestoreConflict):
        portal.call(rows.restore_row, database, HEROES, stale)

    assert summary(history(client, deleted))[-2:] == [(4, "restore"), (5, "delete")]
    assert client.get(f"/heroes/{deleted}").status_code == 404


# --- who may restore ---------------------------------------------------------------------------


def test_under_the_owner_policy_only_the_owner_or_an_admin_restores(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(write_policy="owner")
    make_user(session, "alice")
    make_user(session, "bob")
    make_user(session, "root", is_admin=True)
    as_alice, as_bob = bearer(sign_in(client, "alice")), bearer(sign_in(client, "bob"))
    as_admin = bearer(sign_in(client, "root"))
    hero_id = client.post("/heroes/", json=DEADPOND, headers=as_alice).json()["id"]
    client.patch(f"/heroes/{hero_id}", json={"age": 1}, headers=as_alice)

    live = restore(client, hero_id, {"version": 1}, **as_bob)
    assert live.status_code == 403
    assert restore(client, hero_id, {"version": 1}, **as_alice).status_code == 200
    client.delete(f"/heroes/{hero_id}", headers=as_alice)
    assert restore(client, hero_id).status_code == 401
    assert restore(client, hero_id, **as_bob).status_code == 403
    assert restore(client, hero_id, **as_alice).status_code == 200
    client.delete(f"/heroes/{hero_id}", headers=as_admin)
    assert restore(client, hero_id, **as_admin).status_code == 200
    assert stored(session, hero_id).owner_id is not None


def test_under_the_signed_in_read_policy_history_needs_a_token(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(read_policy="signed_in")
    make_user(session, "alice")
    hero_id = create(client)

    assert client.get(f"/heroes/{hero_id}/history").status_code == 401
    signed_in = client.get(f"/heroes/{hero_id}/history", headers=bearer(sign_in(client, "alice")))
    assert summary(signed_in.json()) == [(1, "create")]


def test_history_and_restore_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert paths["/heroes/{hero_id}/history"]["get"]["operationId"] == "read_hero_history"
    assert paths["/heroes/{hero_id}/restore"]["post"]["operationId"] == "restore_hero"
