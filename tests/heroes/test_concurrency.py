"""Racing requests on one hero resolve in the database, on every backend.

Requests are sent from several threads through the running app's TestClient: each one is
routed to the app's thread pool, so the database sees them at once. The first test proves
that, so that a harness that quietly serialised requests could not make the others pass.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from graphlib import CycleError, TopologicalSorter
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.heroes.models import Hero
from tests.factories import make_hero, read_stored
from tests.racing import TIMEOUT, Call, race

NOT_FOUND = {"detail": "Hero not found"}
FIELDS = ("name", "age", "secret_name")


# --- helpers -------------------------------------------------------------------------------


def patch(client: TestClient, hero_id: int, body: dict[str, Any]) -> Call:
    return lambda: client.patch(f"/heroes/{hero_id}", json=body)


def delete(client: TestClient, hero_id: int) -> Call:
    return lambda: client.delete(f"/heroes/{hero_id}")


def stored_id(hero: Hero) -> int:
    assert hero.id is not None, "a stored hero has an id"
    return hero.id


# --- the harness really is concurrent ------------------------------------------------------


def test_a_request_waiting_on_a_row_lock_does_not_hold_up_other_requests(
    client: TestClient, session: Session
) -> None:
    locked = stored_id(make_hero(session, name="Locked"))
    other = stored_id(make_hero(session, name="Free"))
    # The test's own transaction takes the write lock on one hero (the whole database's,
    # on SQLite) and keeps it until it rolls back.
    session.connection().execute(update(Hero).where(col(Hero.id) == locked).values(name="Locked"))
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        blocked = pool.submit(client.patch, f"/heroes/{locked}", json={"age": 7})
        time.sleep(0.2)  # let the PATCH reach the database and wait there
        try:
            free = pool.submit(client.get, f"/heroes/{other}").result(timeout=TIMEOUT)
        except TimeoutError:
            raise AssertionError(
                "the GET waited behind the PATCH: requests run one by one"
            ) from None

        assert free.status_code == 200
        assert free.json()["name"] == "Free"
        assert not blocked.done(), "the PATCH should still be waiting for the row lock"
        session.rollback()
        unblocked = blocked.result(timeout=TIMEOUT)
        assert unblocked.json() == {"id": locked, "name": "Locked", "age": 7}
    finally:
        session.rollback()
        pool.shutdown(wait=False, cancel_futures=True)


# --- PATCH racing DELETE -------------------------------------------------------------------


def test_patches_racing_a_delete_answer_200_or_404_and_the_hero_is_gone(
    client: TestClient, session: Session
) -> None:
    for round_number in range(20):
        hero_id = stored_id(make_hero(session))
        changes: list[dict[str, Any]] = [
            {"name": f"Renamed {round_number}"},
            {"age": round_number},
            {"secret_name": f"Hidden {round_number}"},
        ]
        calls = [patch(client, hero_id, body) for body in changes] + [delete(client, hero_id)]

        *patched, deleted = race(calls)

        # Nobody else deletes this hero: the one DELETE always finds it.
        assert (deleted.status_code, deleted.json()) == (200, {"ok": True})
        for body, response in zip(changes, patched, strict=True):
            assert response.status_code in (200, 404), response.text
            if response.status_code == 404:
                assert response.json() == NOT_FOUND
                continue
            assert response.json()["id"] == hero_id
            for field, value in body.items():
                if field != "secret_name":
                    assert response.json()[field] == value
        assert read_stored(session, hero_id) is None
        assert client.get(f"/heroes/{hero_id}").status_code == 404


# --- DELETE racing DELETE ------------------------------------------------------------------


def test_of_20_concurrent_deletes_of_one_hero_exactly_one_succeeds(
    client: TestClient, session: Session
) -> None:
    bystander = make_hero(session, name="Bystander")
    for _ in range(5):
        hero_id = stored_id(make_hero(session))

        responses = race([delete(client, hero_id) for _ in range(20)])

        answers = [(response.status_code, response.json()) for response in responses]
        assert answers.count((200, {"ok": True})) == 1, answers
        assert answers.count((404, NOT_FOUND)) == 19, answers
        assert read_stored(session, hero_id) is None

    survivor = read_stored(session, bystander.id)
    assert survivor is not None
    assert survivor.name == "Bystander"


# --- PATCH racing PATCH --------------------------------------------------------------------


def test_50_concurrent_patches_of_different_fields_lose_no_field(
    client: TestClient, session: Session
) -> None:
    original = make_hero(session, name="Original", age=1, secret_name="Original secret")
    hero_id = stored_id(original)
    # Request i sets one field to a value no other request sends, nor the original holds.
    changes: list[tuple[str, str | int]] = []
    for i in range(50):
        field = FIELDS[i % 3]
        changes.append((field, 1000 + i if field == "age" else f"{field} {i}"))
    sent = {field: {value for name, value in changes if name == field} for field in FIELDS}

    responses = race([patch(client, hero_id, {field: value}) for field, value in changes])

    bodies = []
    for (field, value), response in zip(changes, responses, strict=True):
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"id", "name", "age"}
        assert body["id"] == hero_id
        if field != "secret_name":
            assert body[field] == value, "a PATCH's answer shows its own change"
        # Every other field is the original or what another request sent: nothing else.
        assert body["name"] in sent["name"] | {original.name}
        assert body["age"] in sent["age"] | {original.age}
        bodies.append(body)

    stored = read_stored(session, hero_id)
    assert stored is not None
    # No field lost: every field holds a value sent for it, none still holds the original.
    assert stored.name in sent["name"]
    assert stored.age in sent["age"]
    assert stored.secret_name in sent["secret_name"]
    # The row is one some PATCH left: the stored name and age were set by two requests,
    # and whichever of them committed last answered with exactly the stored pair.
    last_writers = [changes.index(("name", stored.name)), changes.index(("age", stored.age))]
    assert any(
        (bodies[i]["name"], bodies[i]["age"]) == (stored.name, stored.age) for i in last_writers
    ), (stored.name, stored.age, [bodies[i] for i in last_writers])
    assert_one_order_explains_every_answer(changes, bodies, stored, original)


def assert_one_order_explains_every_answer(
    changes: list[tuple[str, str | int]],
    bodies: list[dict[str, Any]],
    stored: Hero,
    original: Hero,
) -> None:
    """Each answer is the row as its PATCH left it: some serial order produces them all.

    Request j answering a value request i wrote puts i before j; answering the original
    value of a field puts j before every request that writes that field; the requests
    that wrote the stored values come last among those writing the same field. A cycle
    means two requests each saw the other's write: a merged or stale read.
    """
    writer = {change: i for i, change in enumerate(changes)}
    writes = {
        field: [i for i, (name, _) in enumerate(changes) if name == field] for field in FIELDS
    }
    before: dict[int, set[int]] = {i: set() for i in range(len(changes))}
    for j, body in enumerate(bodies):
        for field in ("name", "age"):
            if body[field] == getattr(original, field):
                for i in writes[field]:
                    before[i].add(j)
            elif writer[(field, body[field])] != j:
                before[j].add(writer[(field, body[field])])
    for field in FIELDS:
        last = writer[(field, getattr(stored, field))]
        before[last].update(i for i in writes[field] if i != last)
    try:
        tuple(TopologicalSorter(before).static_order())
    except CycleError as error:
        cycle = " before ".join(f"#{i} {dict([changes[i]])}" for i in error.args[1])
        raise AssertionError(f"no serial order explains the answers: {cycle}") from None


# --- concurrent POSTs ----------------------------------------------------------------------


def test_concurrent_posts_get_distinct_ids_and_are_all_stored(
    client: TestClient, session: Session
) -> None:
    sent = [{"name": f"Twin {i}", "age": i, "secret_name": f"Twin secret {i}"} for i in range(50)]

    responses = race([partial(client.post, "/heroes/", json=body) for body in sent])

    assert all(response.status_code == 200 for response in responses)
    ids = [response.json()["id"] for response in responses]
    assert len(set(ids)) == 50
    for body, response in zip(sent, responses, strict=True):
        assert response.json() == {
            "id": response.json()["id"],
            "name": body["name"],
            "age": body["age"],
        }
    stored = {hero.id: hero for hero in session.exec(select(Hero)).all()}
    assert set(stored) == set(ids)
    for hero_id, body in zip(ids, sent, strict=True):
        hero = stored[hero_id]
        assert (hero.name, hero.age, hero.secret_name) == (
            body["name"],
            body["age"],
            body["secret_name"],
        )
