"""The change feed as a follower sees it, on every backend: every committed change once, in
commit order, while writers race; a list and then the feed rebuild the database's state;
positions older than what is kept are 410; nothing secret is ever shown."""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from app.config import Settings
from app.heroes.models import Hero
from app.kit.changes import feed
from app.kit.changes.models import ChangeRecord
from tests.factories import bearer, make_user, sign_in
from tests.racing import TIMEOUT

SECRET = "Dive Wilson, in secret"
FOLLOW_SECONDS = 20.0  # the longest a follower may take to catch up once writers stop


# --- helpers -------------------------------------------------------------------------------


def position_now(client: TestClient) -> str:
    position: str = client.get("/changes").json()["position"]
    return position


def follow(client: TestClient, since: str, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every change after `since` now, page by page; and the position after them."""
    seen: list[dict[str, Any]] = []
    for _page in range(1000):
        answer = client.get("/changes", params={"since": since, **params})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += body["changes"]
        if body["position"] == since and not body["changes"]:
            return seen, since
        since = body["position"]
    raise AssertionError("the feed never ran out of changes")


class Follower:
    """A thread that follows the feed while writers write, until told to stop; then it
    drains what is left."""

    def __init__(self, client: TestClient, since: str) -> None:
        self.client = client
        self.position = since
        self.seen: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Follower":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT)
        assert not self._thread.is_alive(), "the follower is stuck"

    def _run(self) -> None:
        deadline = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._poll(limit=7)  # small pages: a page often ends inside a burst

    def _poll(self, **params: Any) -> None:
        body = self.client.get("/changes", params={"since": self.position, **params}).json()
        self.seen += body["changes"]
        self.position = body["position"]

    def drain(self) -> list[dict[str, Any]]:
        """Stop following as writers write, and read what is left."""
        self.__exit__()
        more, self.position = follow(self.client, self.position)
        self.seen += more
        return self.seen


def versions_by_row(changes: list[dict[str, Any]]) -> dict[tuple[str, int], list[int]]:
    found: dict[tuple[str, int], list[int]] = {}
    for change in changes:
        found.setdefault((change["resource"], change["id"]), []).append(change["version"])
    return found


def acknowledged(answers: list[Any]) -> set[tuple[int, int]]:
    """(hero id, version) of each write the service answered with success."""
    done = set()
    for answer in answers:
        assert answer.status_code == 200, answer.text
        version = int(answer.headers["etag"].strip('"').split(".")[-1])
        done.add((answer.json()["id"], version))
    return done


@contextmanager
def hero_locked(session: Session, hero_id: int) -> Iterator[None]:
    """The test's own transaction holds the hero's row (SQLite: the whole database)."""
    session.connection().execute(update(Hero).where(col(Hero.id) == hero_id).values(name="Locked"))
    try:
        yield
    finally:
        session.rollback()


# --- the feed's answers ----------------------------------------------------------------------


def test_every_write_is_one_change_with_its_own_version_and_no_secret(client: TestClient) -> None:
    since = position_now(client)
    team = client.post("/teams/", json={"name": "Preventers", "headquarters": "Tower"}).json()
    hero = client.post(
        "/heroes/", json={"name": "Deadpond", "secret_name": SECRET, "team_id": team["id"]}
    ).json()
    client.patch(f"/heroes/{hero['id']}", json={"age": 30, "secret_name": SECRET + "!"})
    client.delete(f"/heroes/{hero['id']}")

    answer = client.get("/changes", params={"since": since})

    assert SECRET not in answer.text
    changes = answer.json()["changes"]
    assert [(c["resource"], c["op"], c["version"]) for c in changes] == [
        ("teams", "create", 1),
        ("teams", "update", 2),  # a hero joined: the team's answer lists it
        ("heroes", "create", 1),
        ("teams", "update", 3),
        ("heroes", "update", 2),
        ("teams", "update", 4),  # it left
        ("heroes", "delete", 3),  # a deletion is a version of its own
    ]
    assert changes[2]["data"] == {
        "id": hero["id"],
        "name": "Deadpond",
        "age": None,
        "team_id": team["id"],
    }
    assert changes[-1]["data"] == {
        "id": hero["id"],
        "name": "Deadpond",
        "age": 30,
        "team_id": team["id"],
    }
    assert set(changes[0]) == {
        "position",
        "resource",
        "id",
        "version",
        "op",
        "data",
        "changed_at",
        "actor",
    }
    assert len({change["position"] for change in changes}) == len(changes)


def test_a_deleted_team_releases_its_heroes_each_as_a_change(client: TestClient) -> None:
    team = client.post("/teams/", json={"name": "Z-Force", "headquarters": "Sister"}).json()
    heroes = [
        client.post(
            "/heroes/", json={"name": f"H{n}", "secret_name": "s", "team_id": team["id"]}
        ).json()
        for n in range(3)
    ]
    since = position_now(client)

    client.delete(f"/teams/{team['id']}")

    changes, _ = follow(client, since)
    assert [(c["resource"], c["id"], c["op"]) for c in changes] == [
        *(("heroes", hero["id"], "update") for hero in heroes),
        ("teams", team["id"], "delete"),
    ]
    assert all(c["data"]["team_id"] is None for c in changes[:3])
    # A follower's versions are the ETags' versions.
    assert [client.get(f"/heroes/{hero['id']}").headers["etag"] for hero in heroes] == [
        f'"{change["id"]}.{change["version"]}"' for change in changes[:3]
    ]


def test_filters_by_resource_and_by_id_and_the_position_still_advances(
    client: TestClient,
) -> None:
    since = position_now(client)
    first = client.post("/heroes/", json={"name": "A", "secret_name": "s"}).json()
    client.post("/heroes/", json={"name": "B", "secret_name": "s"})
    client.post("/teams/", json={"name": "T", "headquarters": "H"})
    client.patch(f"/heroes/{first['id']}", json={"age": 3})

    by_id = client.get(
        "/changes", params={"since": since, "resource": "heroes", "id": first["id"]}
    )
    teams = client.get("/changes", params={"since": since, "resource": "teams"})

    assert [(c["id"], c["version"]) for c in by_id.json()["changes"]] == [
        (first["id"], 1),
        (first["id"], 2),
    ]
    assert [c["resource"] for c in teams.json()["changes"]] == ["teams"]
    # Both continue from the newest position, past the changes they leave out.
    assert by_id.json()["position"] == teams.json()["position"] == position_now(client)


def test_without_since_the_feed_starts_now(client: TestClient) -> None:
    client.post("/heroes/", json={"name": "Before", "secret_name": "s"})

    answer = client.get("/changes").json()
    client.post("/heroes/", json={"name": "After", "secret_name": "s"})

    assert answer["changes"] == []
    changes, _ = follow(client, answer["position"])
    assert [c["data"]["name"] for c in changes] == ["After"]


@pytest.mark.parametrize(
    "params",
    [
        {"since": "not-a-position"},
        {"since": "WzEsImQ4OGMxYWI1Nzkz.forged"},
        {"limit": 0},
        {"limit": 1001},
        {"wait": 31},
        {"wait": -1},
        {"resource": "users"},
        {"id": "x"},
        {"unknown": 1},
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(
    client: TestClient, params: dict[str, Any]
) -> None:
    answer = client.get("/changes", params=params)

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][0] == "query"


def test_a_position_from_a_cursor_is_refused(client: TestClient) -> None:
    for n in range(3):
        client.post("/heroes/", json={"name": f"H{n}", "secret_name": "s"})
    link = client.get("/heroes/", params={"limit": 1, "sort": "id"}).headers["link"]
    cursor = link.split("cursor=")[1].split(">")[0].split("&")[0]

    assert client.get("/changes", params={"since": cursor}).status_code == 422


def test_the_writer_signed_in_is_the_actor(client: TestClient, session: Session) -> None:
    user = make_user(session)
    since = position_now(client)

    client.post(
        "/heroes/",
        json={"name": "Owned", "secret_name": "s"},
        headers=bearer(sign_in(client, user.username)),
    )
    client.post("/heroes/", json={"name": "Anonymous", "secret_name": "s"})

    changes, _ = follow(client, since)
    assert [c["actor"] for c in changes] == [user.id, None]


def test_the_request_id_and_key_are_recorded_but_not_shown(
    client: TestClient, session: Session
) -> None:
    since = position_now(client)

    client.post(
        "/heroes/",
        json={"name": "Keyed", "secret_name": "s"},
        headers={"Idempotency-Key": "key-1", "X-Request-ID": "req-1"},
    )

    stored = session.exec(select(ChangeRecord)).one()
    assert (stored.request_id, stored.idempotency_key) == ("req-1", "key-1")
    answer = client.get("/changes", params={"since": since}).text
    assert "req-1" not in answer
    assert "key-1" not in answer


# --- long poll -------------------------------------------------------------------------------


def test_a_long_poll_answers_as_soon_as_a_change_commits(client: TestClient) -> None:
    since = position_now(client)
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(client.get, "/changes", params={"since": since, "wait": 25})
        time.sleep(0.3)
        assert not waiting.done(), "the long poll answered before any change"
        client.post("/heroes/", json={"name": "Awaited", "secret_name": "s"})
        answer = waiting.result(timeout=TIMEOUT)

    assert [c["data"]["name"] for c in answer.json()["changes"]] == ["Awaited"]


def test_a_filtered_long_poll_waits_past_other_changes(client: TestClient) -> None:
    since = position_now(client)
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(
            client.get, "/changes", params={"since": since, "wait": 25, "resource": "teams"}
        )
        client.post("/heroes/", json={"name": "Not awaited", "secret_name": "s"})
        time.sleep(1.2)  # more than two polls of the clock
        assert not waiting.done(), "a hero's change ended the wait for teams"
        client.post("/teams/", json={"name": "Awaited", "headquarters": "H"})
        answer = waiting.result(timeout=TIMEOUT)

    assert [c["data"]["name"] for c in answer.json()["changes"]] == ["Awaited"]


def test_a_long_poll_with_nothing_to_see_ends_empty_at_its_position(client: TestClient) -> None:
    since = position_now(client)

    answer = client.get("/changes", params={"since": since, "wait": 0.5}).json()

    assert answer == {"changes": [], "position": since}


# --- exactly once, in order, while writers race ----------------------------------------------


def test_racing_writers_each_change_is_seen_once_in_order_with_one_writer_stalled(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """One PATCH starts its transaction and then waits inside it for its hero's row, held
    by the test, while the others commit (on SQLite, whose one writer is held too, they
    wait with it). A follower polls all along."""
    heroes = [
        client.post("/heroes/", json={"name": f"H{n}", "secret_name": "s"}).json()
        for n in range(6)
    ]
    stalled = heroes[0]["id"]
    one_writer = settings.database_url.startswith("sqlite")
    calls: list[tuple[Callable[..., Any], str, dict[str, Any]]] = [
        (client.patch, f"/heroes/{hero['id']}", {"age": n})
        for n in range(8)
        for hero in heroes[1:]
    ]
    calls += [
        (client.post, "/heroes/", {"name": f"New {n}", "secret_name": "s"}) for n in range(10)
    ]
    since = position_now(client)
    with Follower(client, since) as follower, ThreadPoolExecutor(max_workers=6) as pool:
        with hero_locked(session, stalled):
            late = pool.submit(client.patch, f"/heroes/{stalled}", json={"age": 99})
            time.sleep(0.2)
            futures = [pool.submit(call, path, json=body) for call, path, body in calls]
            if not one_writer:
                wait(futures, timeout=TIMEOUT)
                assert not late.done(), "the stalled writer should still be waiting"
        answers = [future.result(timeout=TIMEOUT) for future in [*futures, late]]
        seen = follower.drain()

    heroes_seen = [c for c in seen if c["resource"] == "heroes"]
    pairs = [(c["id"], c["version"]) for c in heroes_seen]
    assert len(pairs) == len(set(pairs)), "a change was seen twice"
    assert set(pairs) == acknowledged(answers), (
        "a change acknowledged was missed, or one not made seen"
    )
    for row, versions in versions_by_row(heroes_seen).items():
        assert versions == sorted(versions), f"{row} out of order: {versions}"
    if not one_writer:
        assert pairs[-1] == (stalled, 2), "the stalled write committed last, so it comes last"


def test_followers_polling_while_writers_race_see_each_change_once(client: TestClient) -> None:
    since = position_now(client)
    with Follower(client, since) as first, Follower(client, since) as second:
        with ThreadPoolExecutor(max_workers=8) as pool:
            created = list(
                pool.map(
                    lambda n: client.post("/heroes/", json={"name": f"H{n}", "secret_name": "s"}),
                    range(40),
                    timeout=TIMEOUT,
                )
            )
            ids = [answer.json()["id"] for answer in created]
            changed = list(
                pool.map(
                    lambda hero_id: client.patch(f"/heroes/{hero_id}", json={"age": 1}),
                    ids * 2,
                    timeout=TIMEOUT,
                )
            )
        seen_first, seen_second = first.drain(), second.drain()

    done = acknowledged(created + changed)
    for seen in (seen_first, seen_second):
        pairs = [(c["id"], c["version"]) for c in seen]
        assert sorted(pairs) == sorted(done)
        for row, versions in versions_by_row(seen).items():
            assert versions == sorted(versions), f"{row} out of order: {versions}"
    assert [c["position"] for c in seen_first] == [c["position"] for c in seen_second]


# --- list, then watch -----------------------------------------------------------------------


def test_a_list_and_then_the_feed_rebuild_the_state_while_writers_write(
    client: TestClient,
) -> None:
    ids = [
        client.post("/heroes/", json={"name": f"H{n}", "secret_name": "s", "age": n}).json()["id"]
        for n in range(30)
    ]
    stop = threading.Event()

    def write(worker: int) -> None:
        for n in range(200):
            if stop.is_set():
                return
            hero_id = ids[(worker * 7 + n) % len(ids)]
            if n % 5 == 4:
                client.post("/heroes/", json={"name": f"W{worker}-{n}", "secret_name": "s"})
            elif n % 11 == 10:
                client.delete(f"/heroes/{hero_id}")
            else:
                client.patch(f"/heroes/{hero_id}", json={"age": n})

    with ThreadPoolExecutor(max_workers=3) as pool:
        writers = [pool.submit(write, worker) for worker in range(3)]
        time.sleep(0.2)
        listed = client.get("/heroes/", params={"limit": 100})
        time.sleep(0.3)
        stop.set()
        for writer in writers:
            writer.result(timeout=TIMEOUT)

    state = {hero["id"]: hero for hero in listed.json()}
    assert len(state) < 100, "the list must fit one page for this test"
    changes, _ = follow(client, listed.headers["changes-position"], resource="heroes")
    for change in changes:
        if change["op"] == "delete":
            state.pop(change["id"], None)
        else:
            data = change["data"]
            state[change["id"]] = {"id": data["id"], "name": data["name"], "age": data["age"]}
    assert state == {hero["id"]: hero for hero in client.get("/heroes/").json()}


def test_an_empty_list_carries_a_position_too(client: TestClient) -> None:
    listed = client.get("/heroes/", params={"name": "Nobody"})
    client.post("/heroes/", json={"name": "Nobody", "secret_name": "s"})

    changes, _ = follow(client, listed.headers["changes-position"])

    assert listed.json() == []
    assert [c["data"]["name"] for c in changes] == ["Nobody"]


# --- retention -------------------------------------------------------------------------------


def test_a_change_a_list_showed_before_it_was_numbered_is_not_followed_again(
    client: TestClient, session: Session
) -> None:
    """As a write of an instance that stopped before numbering it leaves it: committed,
    shown by lists, numbered later (here by the round the next write asks for)."""
    hero = Hero(name="Unnumbered", secret_name="s", version=1)
    session.add(hero)
    session.commit()
    assert hero.id is not None
    session.add(
        ChangeRecord(
            resource="heroes",
            row_id=hero.id,
            version=1,
            op="create",
            data=f'{{"id": {hero.id}, "name": "Unnumbered", "age": null, "team_id": null}}',
            changed="[]",
            changed_at=hero.created_at,
        )
    )
    session.commit()
    unnumbered = select(ChangeRecord).where(col(ChangeRecord.position).is_(None))
    assert len(session.exec(unnumbered).all()) == 1

    listed = client.get("/heroes/")
    position = listed.headers["changes-position"]
    created = client.post("/heroes/", json={"name": "After", "secret_name": "s"}).json()
    seen, end = follow(client, position)

    assert [row["name"] for row in listed.json()] == ["Unnumbered"]
    assert [(change["id"], change["op"]) for change in seen] == [(created["id"], "create")]
    assert [change["id"] for change in follow(client, position, limit=1)[0]] == [created["id"]]
    assert follow(client, end) == ([], end)  # the skip is spent: the position is a plain one
    session.rollback()
    assert session.exec(unnumbered).all() == []


def test_a_position_older_than_what_is_kept_is_410_and_each_rows_last_change_stays(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    old = position_now(client)
    hero = client.post("/heroes/", json={"name": "A", "secret_name": "s"}).json()
    client.patch(f"/heroes/{hero['id']}", json={"age": 1})
    client.patch(f"/heroes/{hero['id']}", json={"age": 2})
    gone = client.post("/heroes/", json={"name": "B", "secret_name": "s"}).json()
    client.delete(f"/heroes/{gone['id']}")
    recent = position_now(client)

    assert client.portal is not None
    client.portal.call(feed.purge, app.state.database, timedelta(0))

    answer = client.get("/changes", params={"since": old})
    assert answer.status_code == 410
    assert "list the resource again" in answer.json()["detail"]
    assert client.get("/changes", params={"since": recent}).status_code == 200
    kept = session.exec(select(ChangeRecord.row_id, ChangeRecord.version, ChangeRecord.op)).all()
    assert sorted(kept) == [(hero["id"], 3, "update"), (gone["id"], 2, "delete")]
    assert session.exec(select(func.count()).select_from(ChangeRecord)).one() == 2


def test_a_restore_is_a_change_of_its_own_made_by_its_actor(
    client: TestClient, session: Session
) -> None:
    user = make_user(session)
    headers = bearer(sign_in(client, user.username))
    hero = client.post("/heroes/", json={"name": "Back", "secret_name": SECRET}).json()
    client.delete(f"/heroes/{hero['id']}")
    since = position_now(client)

    restored = client.post(f"/heroes/{hero['id']}/restore", headers=headers)

    assert restored.status_code == 200
    changes, _ = follow(client, since)
    assert [(c["op"], c["version"], c["actor"]) for c in changes] == [("restore", 3, user.id)]
    assert changes[0]["data"] == {"id": hero["id"], "name": "Back", "age": None, "team_id": None}
    assert SECRET not in client.get("/changes", params={"since": since}).text
