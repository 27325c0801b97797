"""Timestamps: set by the service, in headers always, in the body only on request."""

import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import read_stored

HERO_KEYS = {"id", "name", "age"}


def stamps(session: Session, hero_id: int) -> tuple[datetime, datetime]:
    """The stored timestamps, read now (a later read expires the object)."""
    stored = read_stored(session, hero_id)
    assert stored is not None
    return stored.created_at, stored.updated_at


def create(client: TestClient) -> tuple[dict[str, Any], datetime]:
    response = client.post("/heroes/", json={"name": "Clock", "secret_name": "c", "age": 1})
    assert response.status_code == 200
    return response.json(), parsedate_to_datetime(response.headers["last-modified"])


def test_create_stores_both_timestamps_and_answers_last_modified(
    client: TestClient, session: Session
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    hero, last_modified = create(client)

    assert set(hero) == HERO_KEYS
    stored = read_stored(session, hero["id"])
    assert stored is not None
    assert stored.created_at == stored.updated_at
    assert stored.created_at.tzinfo is not None
    assert before <= stored.created_at <= datetime.now(UTC)
    assert last_modified == stored.updated_at.replace(microsecond=0)


def test_read_one_answers_last_modified_and_the_tutorials_body(client: TestClient) -> None:
    hero, created = create(client)

    response = client.get(f"/heroes/{hero['id']}")

    assert response.json() == hero
    assert parsedate_to_datetime(response.headers["last-modified"]) == created


def test_patch_moves_updated_at_only(client: TestClient, session: Session) -> None:
    hero, _ = create(client)
    created_before, updated_before = stamps(session, hero["id"])
    time.sleep(1.1)  # Last-Modified has whole seconds

    response = client.patch(f"/heroes/{hero['id']}", json={"age": 2})

    created_after, updated_after = stamps(session, hero["id"])
    assert created_after == created_before
    assert updated_after > updated_before
    last_modified = parsedate_to_datetime(response.headers["last-modified"])
    assert last_modified == updated_after.replace(microsecond=0)
    assert response.json() == hero | {"age": 2}


def test_an_empty_patch_changes_nothing_not_even_updated_at(
    client: TestClient, session: Session
) -> None:
    hero, _ = create(client)
    before = stamps(session, hero["id"])

    client.patch(f"/heroes/{hero['id']}", json={})

    assert stamps(session, hero["id"]) == before


def test_fields_adds_the_timestamps_on_request(client: TestClient, session: Session) -> None:
    hero, _ = create(client)
    stored = read_stored(session, hero["id"])
    assert stored is not None

    one = client.get(f"/heroes/{hero['id']}", params={"fields": "updated_at,created_at"})
    page = client.get("/heroes/", params={"fields": "created_at"})

    assert list(one.json()) == ["name", "age", "id", "created_at", "updated_at"]
    assert datetime.fromisoformat(one.json()["created_at"]) == stored.created_at
    assert datetime.fromisoformat(one.json()["updated_at"]) == stored.updated_at
    assert datetime.fromisoformat(one.json()["updated_at"]).utcoffset() == timedelta(0)
    assert page.json() == [hero | {"created_at": one.json()["created_at"]}]


@pytest.mark.parametrize("path", ["/heroes/", "/heroes/{id}"])
def test_unknown_fields_are_422_naming_what_is_allowed(client: TestClient, path: str) -> None:
    hero, _ = create(client)
    for fields in ("secret_name", "created_at,", "id", ""):
        response = client.get(path.format(id=hero["id"]), params={"fields": fields})

        assert response.status_code == 422, fields
        (problem,) = response.json()["detail"]
        assert problem["type"] == "string_pattern_mismatch"
        assert problem["loc"] == ["query", "fields"]
        assert "created_at|updated_at" in problem["ctx"]["pattern"]


def test_one_hero_reads_fields_as_fastapi_would(client: TestClient) -> None:
    """The last `fields` given counts, and other parameters are ignored, as they were
    when FastAPI read the parameter."""
    hero, _ = create(client)
    url = f"/heroes/{hero['id']}"

    last_counts = client.get(f"{url}?fields=bogus&fields=created_at")
    ignored = client.get(f"{url}?limit=5&fields=updated_at")
    plain = client.get(f"{url}?limit=5")

    assert list(last_counts.json()) == ["name", "age", "id", "created_at"]
    assert list(ignored.json()) == ["name", "age", "id", "updated_at"]
    assert plain.json() == hero
