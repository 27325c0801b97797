"""A database whose tables are gone (dropped, or the database re-created empty) behind a
running service: readiness says so, and every hero route answers a clean 503, never a 500
with a traceback. Once the schema is back, both recover without a restart."""

from collections.abc import Callable

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.db.migrator import upgrade
from app.db.schema import SCHEMA_HEAD
from tests.conftest import drop_every_table

UNAVAILABLE = {"detail": "Database unavailable, try again shortly"}


def hero_routes(client: TestClient, hero_id: int) -> dict[str, Callable[[], httpx.Response]]:
    return {
        "read one": lambda: client.get(f"/heroes/{hero_id}"),
        "list": lambda: client.get("/heroes/?name_contains=a"),
        "list with a total": lambda: client.get("/heroes/", headers={"Prefer": "count=exact"}),
        "create": lambda: client.post("/heroes/", json={"name": "New", "secret_name": "n"}),
        "update": lambda: client.patch(f"/heroes/{hero_id}", json={"age": 9}),
        "delete": lambda: client.delete(f"/heroes/{hero_id}"),
    }


def test_tables_dropped_behind_a_running_service_are_503_everywhere_until_restored(
    client: TestClient, clean_db: Engine
) -> None:
    # A 500 would raise the server's exception here (the client's default): a failure too.
    hero = client.post("/heroes/", json={"name": "Before", "secret_name": "b"}).json()
    assert client.get("/readyz").status_code == 200

    drop_every_table(clean_db)
    try:
        ready = client.get("/readyz")
        answers = {name: call() for name, call in hero_routes(client, hero["id"]).items()}
    finally:
        upgrade(clean_db)

    assert ready.status_code == 503, ready.text
    assert ready.json() == UNAVAILABLE  # names no table, revision or SQL
    assert ready.headers["retry-after"] == "1"
    for name, response in answers.items():
        assert (name, response.status_code) == (name, 503), response.text
        assert response.json() == UNAVAILABLE
    assert client.get("/readyz").json() == {"status": "ready"}
    created = client.post("/heroes/", json={"name": "After", "secret_name": "a"})
    assert created.status_code == 200, created.text
    assert client.get(f"/heroes/{created.json()['id']}").json() == created.json()


def test_readyz_is_503_while_the_schema_is_at_another_revision(
    client: TestClient, clean_db: Engine
) -> None:
    with clean_db.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0004'")
    try:
        response = client.get("/readyz")
    finally:
        with clean_db.begin() as connection:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": SCHEMA_HEAD}
            )

    assert response.status_code == 503, response.text
    assert response.json() == UNAVAILABLE
    assert client.get("/readyz").status_code == 200
