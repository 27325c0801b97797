"""`POST /teams/batch`, on every backend: what is the team's own. A name is unique, so the
unique constraint decides which items are refused (409), in the items' order; expected
versions, WRITE_POLICY=owner, and the change log as for heroes (tests/heroes/test_batch.py
covers what both share)."""

import json
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.teams.models import Team
from tests.conftest import ServiceWith
from tests.factories import bearer, make_team, make_user, sign_in
from tests.heroes.test_batch import changes, written

URL = "/teams/batch"
TAKEN = "A team with this name already exists"


def new(name: str) -> dict[str, Any]:
    return {"name": name, "headquarters": f"Tower of {name}"}


def batch(client: TestClient, items: list[Any], **body: Any) -> httpx.Response:
    return client.post(URL, json={"items": items, **body})


def names(session: Session) -> list[str]:
    session.rollback()
    session.expunge_all()
    return [team.name for team in session.exec(select(Team).order_by(col(Team.id)))]


def test_an_atomic_batch_with_a_taken_name_writes_nothing_and_is_409_naming_each_item(
    client: TestClient, session: Session
) -> None:
    preventers = make_team(session, name="Preventers")
    make_team(session, name="Z-Force")

    response = batch(
        client, [new("New"), new("Preventers"), {"id": preventers.id, "name": "Z-Force"}]
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": [
            {"type": "conflict", "loc": ["body", "items", 1], "msg": TAKEN},
            {"type": "conflict", "loc": ["body", "items", 2], "msg": TAKEN},
        ]
    }
    assert names(session) == ["Preventers", "Z-Force"]
    assert changes(session) == []


def test_a_non_atomic_batch_applies_its_items_in_order_and_refuses_taken_names(
    client: TestClient, session: Session
) -> None:
    preventers = make_team(session, name="Preventers")

    response = batch(
        client,
        [
            {"id": preventers.id, "name": "Preventers Ltd"},  # frees its old name...
            new("Preventers"),  # ...which the next item takes
            new("Preventers Ltd"),  # taken by the first item
            new("Z-Force"),
            {"id": preventers.id, "version": 1, "headquarters": "Moved"},  # now at 2
        ],
        atomic=False,
    )

    assert response.status_code == 200, response.text
    assert names(session) == ["Preventers Ltd", "Preventers", "Z-Force"]
    stored = {team.name: team.id for team in session.exec(select(Team))}
    assert response.json()["results"] == [
        written(preventers.id, 2),
        written(stored["Preventers"], 1),
        {"status": 409, "detail": TAKEN},
        written(stored["Z-Force"], 1),
        {
            "status": 412,
            "detail": "Precondition Failed: the row is no longer at the version sent",
            "etag": f'"{preventers.id}.2"',
        },
    ]
    client.get("/changes")  # a read of the feed waits until they are numbered
    recorded = changes(session)
    assert [(c.row_id, c.op, json.loads(c.changed)) for c in recorded] == [
        (preventers.id, "update", ["name"]),
        (stored["Preventers"], "create", ["id", "name", "headquarters"]),
        (stored["Z-Force"], "create", ["id", "name", "headquarters"]),
    ]
    positions = [c.position for c in recorded]
    first = positions[0]
    assert first is not None
    assert positions == list(range(first, first + 3))
    for change in recorded:
        assert set(json.loads(change.data)) == {"id", "name", "headquarters"}  # no owner


def test_under_owner_policy_a_team_batch_changes_only_the_callers_teams(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(write_policy="owner")
    alice, bob = make_user(session, "alice"), make_user(session, "bob")
    as_alice, as_bob = bearer(sign_in(client, "alice")), bearer(sign_in(client, "bob"))
    alices = client.post(URL, json={"items": [new("Alice's")]}, headers=as_alice)
    team_id = alices.json()["results"][0]["id"]

    refused = client.post(
        URL, json={"items": [{"id": team_id, "headquarters": "Bob's now"}]}, headers=as_bob
    )
    kept = client.post(
        URL, json={"items": [{"id": team_id, "headquarters": "Still Alice's"}]}, headers=as_alice
    )

    assert refused.status_code == 403
    assert kept.json() == {"results": [written(team_id, 2)]}
    session.rollback()
    stored = session.get(Team, team_id)
    assert stored is not None
    assert (stored.owner_id, stored.headquarters) == (alice.id, "Still Alice's")
    assert bob.id != alice.id
