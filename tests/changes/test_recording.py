"""A change is recorded the same on every backend, whichever way it is recorded: by a step
that follows the write, or (PostgreSQL) by the write's own statement, which builds the
change's JSON in SQL (app/kit/changes/log.py, `RowChange`). What a follower reads back is
the very text orjson writes; what a restore reads back, the same values (PostgreSQL writes
a time's microseconds without their trailing zeros)."""

from datetime import datetime
from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.heroes.models import Hero
from app.kit.changes.models import ChangeRecord
from tests.statements import Counted

ODD_NAME = 'Dr. "Quote" \\ Ünïcødé \u2028 🦸'


def recorded(engine: Engine, resource: str, row_id: int) -> list[ChangeRecord]:
    with Session(engine) as session:
        query = (
            select(ChangeRecord)
            .where(ChangeRecord.resource == resource, ChangeRecord.row_id == row_id)
            .order_by(col(ChangeRecord.version))
        )
        return list(session.exec(query))


def as_orjson_writes(value: Any) -> str:
    return orjson.dumps(value).decode()


def test_a_heros_changes_are_recorded_as_the_text_orjson_writes(
    client: TestClient, clean_db: Engine
) -> None:
    answer = client.post("/teams/", json={"name": ODD_NAME, "headquarters": "Tower \u00b0"})
    assert answer.status_code == 200, answer.text
    team = answer.json()
    hero = client.post(
        "/heroes/", json={"name": ODD_NAME, "secret_name": "s\u00e9cret", "team_id": team["id"]}
    ).json()
    client.patch(f"/heroes/{hero['id']}", json={"age": 7})
    with Session(clean_db) as session:
        created_at = session.get_one(Hero, hero["id"]).created_at
    assert client.delete(f"/heroes/{hero['id']}").status_code == 200

    state = {"id": hero["id"], "name": ODD_NAME, "age": 7, "team_id": team["id"]}
    changes = recorded(clean_db, "heroes", hero["id"])
    assert [(c.op, c.version) for c in changes] == [("create", 1), ("update", 2), ("delete", 3)]
    assert changes[0].data == as_orjson_writes(state | {"age": None})
    assert changes[0].changed == as_orjson_writes(["id", "name", "age", "team_id"])
    assert changes[1].data == as_orjson_writes(state)
    assert changes[1].changed == as_orjson_writes(["age"])
    assert changes[2].data == as_orjson_writes(state)
    assert changes[2].kept is not None
    kept = orjson.loads(changes[2].kept)
    assert kept | {"created_at": datetime.fromisoformat(kept["created_at"])} == {
        "secret_name": "s\u00e9cret",
        "owner_id": None,
        "created_at": created_at,
    }
    assert [c.kept for c in changes[:2]] == [None, None]
    team_changes = recorded(clean_db, "teams", team["id"])
    assert [(c.op, c.changed) for c in team_changes] == [
        ("create", as_orjson_writes(["id", "name", "headquarters"])),
        *[("update", as_orjson_writes(["heroes"]))] * 3,  # joined, changed, left
    ]
    assert team_changes[-1].data == as_orjson_writes(
        {"id": team["id"], "name": ODD_NAME, "headquarters": "Tower \u00b0"}
    )


def test_a_write_and_its_change_are_one_statement_where_the_database_can(
    client: TestClient, counted: Counted
) -> None:
    statements = counted.send(client, "POST", "/heroes/", json={"name": "A", "secret_name": "s"})
    assert statements == (1 if counted.database.writes_in_with else 2)
