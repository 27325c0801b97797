"""`POST /heroes/batch`, on every backend: atomic and non-atomic batches of creates and
changes, their results in order, what an atomic refusal names, 1,000 heroes in one
request, one Idempotency-Key for the whole batch, WRITE_POLICY=owner, expected versions,
the teams a batch touches, and every item's change recorded at consecutive positions
with no secret in it. Batches racing single writes: tests/heroes/test_batch_races.py."""

import json
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.heroes.models import Hero
from app.kit.batch.items import BATCH_MAX
from app.kit.changes.models import ChangeRecord
from tests.conftest import ServiceWith
from tests.factories import bearer, make_hero, make_team, make_user, read_team, sign_in

URL = "/heroes/batch"
KEY = "5b0b1f0e-2f0c-4a55-9d5e-6a3c1c2e8f10"
MOVED = "Precondition Failed: the row is no longer at the version sent"


def new(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "secret_name": f"Secret of {name}", **fields}


def batch(client: TestClient, items: list[Any], **body: Any) -> httpx.Response:
    return client.post(URL, json={"items": items, **body})


def written(row_id: int | None, version: int) -> dict[str, Any]:
    assert row_id is not None, "a written row has an id"
    return {"status": 200, "id": row_id, "version": version, "etag": f'"{row_id}.{version}"'}


def heroes_stored(session: Session) -> list[Hero]:
    """Every hero as the database holds it now, plain records later reads leave alone."""
    return _read(session, select(Hero).order_by(col(Hero.id)))


def changes(session: Session) -> list[ChangeRecord]:
    """The change log as the database holds it now, in the order changes were recorded."""
    return _read(session, select(ChangeRecord).order_by(col(ChangeRecord.seq)))


def _read(session: Session, query: Any) -> list[Any]:
    session.rollback()  # a fresh snapshot
    session.expunge_all()
    found = list(session.exec(query).all())
    session.expunge_all()
    return found


def assert_no_secret_in_changes(session: Session) -> None:
    for change in changes(session):
        data = json.loads(change.data)
        assert "secret_name" not in data, change
        assert "Secret of" not in change.data, change
        assert "secret_name" not in json.loads(change.changed), change


# --- atomic --------------------------------------------------------------------------------


def test_an_atomic_batch_creates_and_changes_every_item_and_answers_each_in_order(
    client: TestClient, session: Session
) -> None:
    hero = make_hero(session, name="Rusty-Man", age=48)

    response = batch(
        client, [new("Deadpond"), {"id": hero.id, "age": 49}, new("Spider-Boy", age=15)]
    )

    assert response.status_code == 200, response.text
    created = [row.id for row in heroes_stored(session) if row.id != hero.id]
    assert response.json() == {
        "results": [written(created[0], 1), written(hero.id, 2), written(created[1], 1)]
    }
    stored = {row.name: row for row in heroes_stored(session)}
    assert (stored["Rusty-Man"].age, stored["Rusty-Man"].version) == (49, 2)
    assert stored["Deadpond"].secret_name == "Secret of Deadpond"  # stored, never answered
    assert "Secret of" not in response.text
    assert client.get(f"/heroes/{created[1]}").json() == {
        "name": "Spider-Boy",
        "age": 15,
        "id": created[1],
    }


def test_an_atomic_batch_with_an_invalid_item_writes_nothing_and_names_it_by_index(
    client: TestClient, session: Session
) -> None:
    response = batch(
        client, [new("Deadpond"), {"name": "", "secret_name": "x"}, new("Ok", age=-1)]
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "string_too_short",
                "loc": ["body", "items", 1, "name"],
                "msg": "String should have at least 1 character",
                "ctx": {"min_length": 1},
            },
            {
                "type": "greater_than_equal",
                "loc": ["body", "items", 2, "age"],
                "msg": "Input should be greater than or equal to 0",
                "ctx": {"ge": 0},
            },
        ]
    }
    assert heroes_stored(session) == []
    assert changes(session) == []


def test_an_atomic_batch_the_database_refuses_writes_nothing_and_names_each_bad_item(
    client: TestClient, session: Session
) -> None:
    hero = make_hero(session)

    response = batch(
        client,
        [
            new("Deadpond"),
            {"id": hero.id, "version": 7, "age": 1},  # at version 1
            {"id": 999_999, "age": 1},
            new("Lost", team_id=999_999),
            {"id": hero.id, "age": 2},
        ],
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "version_mismatch",
                "loc": ["body", "items", 1, "version"],
                "msg": MOVED,
                "ctx": {"version": 1, "etag": f'"{hero.id}.1"'},
            },
            {"type": "not_found", "loc": ["body", "items", 2, "id"], "msg": "Hero not found"},
            {
                "type": "missing_reference",
                "loc": ["body", "items", 3, "team_id"],
                "msg": "No team has this id",
            },
        ]
    }
    assert [(row.id, row.age, row.version) for row in heroes_stored(session)] == [
        (hero.id, hero.age, 1)
    ]
    assert changes(session) == []


def test_an_atomic_batch_whose_every_failure_is_a_moved_version_is_412(
    client: TestClient, session: Session
) -> None:
    first, second = make_hero(session), make_hero(session)
    client.patch(f"/heroes/{first.id}", json={"age": 1})

    response = batch(
        client,
        [{"id": first.id, "version": 1, "age": 2}, {"id": second.id, "version": 1, "age": 2}],
    )

    assert response.status_code == 412
    assert response.json()["detail"] == [
        {
            "type": "version_mismatch",
            "loc": ["body", "items", 0, "version"],
            "msg": MOVED,
            "ctx": {"version": 2, "etag": f'"{first.id}.2"'},
        }
    ]
    assert [row.version for row in heroes_stored(session)] == [2, 1]  # the second one too


# --- non-atomic ----------------------------------------------------------------------------


def test_a_non_atomic_batch_writes_what_it_can_and_answers_each_item_in_order(
    client: TestClient, session: Session
) -> None:
    team = make_team(session)
    hero = make_hero(session)

    response = batch(
        client,
        [
            new("Deadpond", team_id=team.id),
            {"id": hero.id, "version": 1, "age": 5},
            {"id": hero.id, "version": 1, "age": 6},  # the item before moved it to 2
            {"id": 999_999, "age": 1},
            {"name": ""},
            new("Lost", team_id=999_999),
            {"id": hero.id, "version": 2},  # changes nothing, at the version it expects
            "not an object",
            new("Last"),
        ],
        atomic=False,
    )

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    ids = {row.name: row.id for row in heroes_stored(session)}
    assert results[0] == written(ids["Deadpond"], 1)
    assert results[1] == written(hero.id, 2)
    assert results[2] == {"status": 412, "detail": MOVED, "etag": f'"{hero.id}.2"'}
    assert results[3] == {"status": 404, "detail": "Hero not found"}
    assert results[4]["status"] == 422
    assert {tuple(each["loc"]) for each in results[4]["detail"]} == {
        ("body", "items", 4, "name"),
        ("body", "items", 4, "secret_name"),
    }
    assert results[5] == {
        "status": 422,
        "detail": [
            {
                "type": "missing_reference",
                "loc": ["body", "items", 5, "team_id"],
                "msg": "No team has this id",
            }
        ],
    }
    assert results[6] == written(hero.id, 2)
    assert results[7]["status"] == 422
    assert results[7]["detail"][0]["loc"] == ["body", "items", 7]
    assert results[8] == written(ids["Last"], 1)
    assert set(ids) == {hero.name, "Deadpond", "Last"}
    # One transaction: its changes are together, in the items' order, the team's last.
    recorded = [(c.resource, c.row_id, c.version, c.op) for c in changes(session)]
    assert recorded == [
        ("heroes", ids["Deadpond"], 1, "create"),
        ("heroes", hero.id, 2, "update"),
        ("heroes", ids["Last"], 1, "create"),
        ("teams", team.id, 2, "update"),
    ]


def test_a_batch_of_1000_heroes_with_the_longest_names_is_one_request(
    client: TestClient, session: Session
) -> None:
    items = [
        {"name": f"{number:04}" + "n" * 251, "secret_name": "s" * 255, "age": number}
        for number in range(BATCH_MAX)
    ]
    assert len(json.dumps({"items": items})) < 1024 * 1024  # under MAX_BODY_SIZE's default

    response = batch(client, items)

    assert response.status_code == 200, response.text[:300]
    results = response.json()["results"]
    stored = heroes_stored(session)
    assert [result["id"] for result in results] == [row.id for row in stored]
    assert [row.age for row in stored] == list(range(BATCH_MAX))
    client.get("/changes")  # a read of the feed waits until they are numbered
    recorded = changes(session)
    assert [change.position for change in recorded] == list(range(1, BATCH_MAX + 1))
    assert [change.row_id for change in recorded] == [row.id for row in stored]
    assert_no_secret_in_changes(session)


@pytest.mark.parametrize("count", [0, BATCH_MAX + 1])
def test_a_batch_of_no_items_or_more_than_the_limit_is_422_naming_the_limit(
    client: TestClient, session: Session, count: int
) -> None:
    response = batch(client, [new(f"Hero {n}") for n in range(count)], atomic=False)

    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "items"]
    limit = {"min_length": 1} if count == 0 else {"max_length": BATCH_MAX}
    assert limit.items() <= problem["ctx"].items()
    assert heroes_stored(session) == []


@pytest.mark.parametrize("atomic", ["yes", 1, None])
def test_atomic_is_a_json_boolean(client: TestClient, atomic: Any) -> None:
    response = batch(client, [new("Deadpond")], atomic=atomic)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "atomic"]


# --- one Idempotency-Key for the whole batch --------------------------------------------------


@pytest.mark.parametrize("atomic", [True, False])
def test_a_retried_batch_replays_its_whole_answer_and_writes_once(
    client: TestClient, session: Session, atomic: bool
) -> None:
    hero = make_hero(session)
    body = {"atomic": atomic, "items": [new("Deadpond"), {"id": hero.id, "version": 9}]}
    headers = {"Idempotency-Key": KEY}

    first = client.post(URL, json=body, headers=headers)
    again = client.post(URL, json=body, headers=headers)

    assert first.status_code == (412 if atomic else 200)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert len(heroes_stored(session)) == (1 if atomic else 2)
    assert len(changes(session)) == (0 if atomic else 1)
    assert all(change.idempotency_key == KEY for change in changes(session))
    other = client.post(URL, json={**body, "atomic": not atomic}, headers=headers)
    assert other.status_code == 422  # the key was sent with another batch


# --- who may write, and which versions --------------------------------------------------------


def test_under_owner_policy_a_batch_creates_the_callers_heroes_and_changes_only_theirs(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(write_policy="owner")
    alice, _bob = make_user(session, "alice"), make_user(session, "bob")
    make_user(session, "root", is_admin=True)
    as_alice, as_bob = bearer(sign_in(client, "alice")), bearer(sign_in(client, "bob"))
    alices = make_hero(session, owner_id=alice.id)

    assert client.post(URL, json={"items": [new("Anon")]}).status_code == 401
    refused = client.post(URL, json={"items": [{"id": alices.id, "age": 1}]}, headers=as_bob)
    assert refused.status_code == 403
    assert refused.json()["detail"] == [
        {
            "type": "not_owner",
            "loc": ["body", "items", 0, "id"],
            "msg": "Only the owner or an admin may change or delete this",
        }
    ]
    mixed = client.post(
        URL,
        json={"atomic": False, "items": [new("Bobs"), {"id": alices.id, "age": 1}]},
        headers=as_bob,
    )
    assert [result["status"] for result in mixed.json()["results"]] == [200, 403]
    bobs = mixed.json()["results"][0]["id"]
    owners = {row.id: row.owner_id for row in heroes_stored(session)}
    assert owners[bobs] == _bob.id
    own = client.post(URL, json={"items": [{"id": alices.id, "age": 3}]}, headers=as_alice)
    assert own.status_code == 200
    as_admin = bearer(sign_in(client, "root"))
    admin = client.post(URL, json={"items": [{"id": bobs, "age": 4}]}, headers=as_admin)
    assert admin.status_code == 200
    recorded: dict[Any, int | None] = {(c.row_id, c.version): c.actor for c in changes(session)}
    assert recorded[(bobs, 1)] == _bob.id
    assert recorded[(alices.id, 2)] == alice.id


def test_with_require_if_match_a_change_without_its_version_is_428(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(require_if_match=True)
    hero = make_hero(session)

    refused = batch(client, [{"id": hero.id, "age": 1}])
    mixed = batch(client, [{"id": hero.id, "age": 1}, new("New")], atomic=False)
    kept = batch(client, [{"id": hero.id, "version": 1, "age": 1}])

    assert refused.status_code == 428
    assert refused.json()["detail"][0]["loc"] == ["body", "items", 0, "version"]
    assert [result["status"] for result in mixed.json()["results"]] == [428, 200]
    assert kept.json() == {"results": [written(hero.id, 2)]}


def test_a_hero_changed_twice_in_one_batch_moves_one_version_each_time(
    client: TestClient, session: Session
) -> None:
    hero = make_hero(session)

    response = batch(
        client,
        [
            {"id": hero.id, "version": 1, "name": "First"},
            {"id": hero.id, "version": 2, "age": 3},
        ],
    )

    assert response.json() == {"results": [written(hero.id, 2), written(hero.id, 3)]}
    assert [(c.version, json.loads(c.changed)) for c in changes(session)] == [
        (2, ["name"]),
        (3, ["age"]),
    ]
    assert client.get(f"/heroes/{hero.id}").headers["etag"] == f'"{hero.id}.3"'


# --- teams ---------------------------------------------------------------------------------


def test_a_batch_touches_each_team_its_heroes_join_leave_or_are_in_once(
    client: TestClient, session: Session
) -> None:
    left, joined, untouched = make_team(session), make_team(session), make_team(session)
    mover = make_hero(session, team_id=left.id)
    stayer = make_hero(session, team_id=joined.id)
    bystander = make_hero(session, team_id=untouched.id)

    response = batch(
        client,
        [
            new("Joiner", team_id=joined.id),
            {"id": mover.id, "team_id": joined.id},
            {"id": stayer.id, "age": 99},
            new("Another joiner", team_id=joined.id),
        ],
    )

    assert response.status_code == 200, response.text
    assert (read_team(session, left.id) or left).version == 2
    assert (read_team(session, joined.id) or joined).version == 2
    assert (read_team(session, untouched.id) or untouched).version == 1
    teams = [
        (c.row_id, c.version, json.loads(c.changed))
        for c in changes(session)
        if c.resource == "teams"
    ]
    assert sorted(teams) == [(left.id, 2, ["heroes"]), (joined.id, 2, ["heroes"])]
    members = client.get(f"/teams/{joined.id}").json()["heroes"]
    assert {hero["name"] for hero in members} == {
        "Joiner",
        "Another joiner",
        mover.name,
        stayer.name,
    }
    assert bystander.team_id == untouched.id


# --- the change log ------------------------------------------------------------------------


def test_each_items_change_is_recorded_with_the_requests_origin_and_numbered_together(
    client: TestClient, session: Session
) -> None:
    team = make_team(session)
    hero = make_hero(session, team_id=team.id)
    client.post("/heroes/", json=new("Before"))

    response = client.post(
        URL,
        json={"items": [new("A", age=1), {"id": hero.id, "secret_name": "New secret"}]},
        headers={"X-Request-ID": "batch-request-1", "Idempotency-Key": KEY},
    )

    assert response.status_code == 200, response.text
    client.get("/changes")  # a read of the feed waits until they are numbered
    ours = [c for c in changes(session) if c.request_id == "batch-request-1"]
    positions = [c.position for c in ours]
    first = positions[0]
    assert first is not None
    assert positions == list(range(first, first + 3))  # no other write between
    assert [(c.resource, c.op, json.loads(c.changed)) for c in ours] == [
        ("heroes", "create", ["id", "name", "age", "team_id"]),
        ("heroes", "update", []),  # only its secret changed
        ("teams", "update", ["heroes"]),
    ]
    assert json.loads(ours[0].data) == {
        "id": ours[0].row_id,
        "name": "A",
        "age": 1,
        "team_id": None,
    }
    assert all(c.idempotency_key == KEY and c.kept is None for c in ours)
    assert_no_secret_in_changes(session)
    assert "New secret" not in "".join(c.data for c in changes(session))


# --- the route -----------------------------------------------------------------------------


def test_the_batch_path_answers_only_post(client: TestClient) -> None:
    for method in ("GET", "PATCH", "DELETE", "PUT"):
        response = client.request(method, URL)
        assert response.status_code == 405, method
        assert response.headers["allow"] == "POST, OPTIONS"
    assert client.options(URL).headers["allow"] == "POST, OPTIONS"
    assert client.get("/heroes/batchx").status_code == 422  # still a hero's (bad) id
