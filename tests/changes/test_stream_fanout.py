"""Followers cost the database per worker, not per follower: when a write commits, one read
of the change log serves every stream and long poll of the worker, each filtering for
itself. On every backend, in process, with the reads of the log counted."""

import threading
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.db import Database, Params, Row
from app.db.statements import Statement
from app.kit.changes.watch import KEEP
from tests.changes.records import FIRST_ROW_ID, record_changes
from tests.changes.sse import EVENT_STREAM, Events
from tests.conftest import ServiceWith

FOLLOWERS = 24
WRITES = 5


class CountedReads:
    """Counts the reads of the change log (the statements `read_feed` runs) a database
    serves, whoever asks."""

    def __init__(self, database: Database) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._fetch_all = database.fetch_all
        database.fetch_all = self._counting  # type: ignore[method-assign]  # a spy, for the test

    async def _counting(self, query: Statement, params: Params) -> list[Row]:
        if "since" in params:
            with self._lock:
                self.count += 1
        return await self._fetch_all(query, params)


@pytest.fixture
def feed(service_with: ServiceWith) -> TestClient:
    # Polling rarely: only the writes' own wake-ups make the worker read the log.
    return service_with(changes_poll_seconds=60, changes_heartbeat_seconds=0.2)


def test_a_write_costs_one_read_of_the_log_however_many_streams_follow(
    feed: TestClient,
) -> None:
    reads = CountedReads(feed.app.state.database)  # type: ignore[attr-defined]
    created = feed.post("/heroes/", json={"name": "Followed", "secret_name": "s"}).json()
    with ExitStack() as streams:
        followers = [
            _open(streams, feed, {} if n % 2 else {"id": created["id"]}) for n in range(FOLLOWERS)
        ]
        for events in followers:
            events.next_of("bookmark")
        before = reads.count
        for age in range(WRITES):
            feed.patch(f"/heroes/{created['id']}", json={"age": age})
        seen = [
            [event.json()["data"]["age"] for event in events.changes(WRITES)]
            for events in followers
        ]
        during = reads.count - before

    assert seen == [list(range(WRITES))] * FOLLOWERS
    # Each write wakes the worker's one read (a wake-up may find two writes at once).
    assert 1 <= during <= WRITES


def test_long_polls_share_the_worker_s_reads_with_the_streams(feed: TestClient) -> None:
    reads = CountedReads(feed.app.state.database)  # type: ignore[attr-defined]
    position = feed.get("/changes").json()["position"]
    answers: list[dict[str, Any]] = []

    def long_poll() -> None:
        answers.append(feed.get("/changes", params={"since": position, "wait": 10}).json())

    polls = [threading.Thread(target=long_poll) for _ in range(FOLLOWERS)]
    for each in polls:
        each.start()
    _wait_until_waiting(feed, FOLLOWERS)
    before = reads.count
    created = feed.post("/heroes/", json={"name": "Polled", "secret_name": "s"}).json()
    for each in polls:
        each.join(timeout=15)

    assert [[change["id"] for change in answer["changes"]] for answer in answers] == [
        [created["id"]]
    ] * FOLLOWERS
    assert 1 <= reads.count - before <= 2  # the wake-up's read, and perhaps a tick's


def test_a_stream_further_behind_than_the_worker_keeps_catches_up_from_the_database(
    feed: TestClient, clean_db: Engine
) -> None:
    with feed.stream("GET", "/changes", headers=EVENT_STREAM) as response:
        events = Events(response.iter_raw())
        events.next_of("bookmark")
        # More than the worker keeps (KEEP): its read starts afresh from the newest, and
        # the stream, left behind, reads the rest from the database page by page.
        record_changes(clean_db, KEEP + 1000)
        woken = feed.post("/heroes/", json={"name": "Last", "secret_name": "s"}).json()
        seen = [event.json()["id"] for event in events.changes(KEEP + 1001)]

    recorded = list(range(FIRST_ROW_ID + 1, FIRST_ROW_ID + KEEP + 1001))
    assert seen == [*recorded, woken["id"]]  # each once, in commit order


def _open(streams: ExitStack, client: TestClient, params: dict[str, Any]) -> Events:
    response = streams.enter_context(
        client.stream("GET", "/changes", params=params, headers=EVENT_STREAM)
    )
    return Events(response.iter_raw())


def _wait_until_waiting(client: TestClient, count: int) -> None:
    """Until `count` followers wait on the worker's watch (bounded: 10 s)."""
    watch = client.app.state.changes_watch  # type: ignore[attr-defined]
    for _ in range(200):
        if watch._waiting >= count:  # what the test waits for
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{watch._waiting} followers wait, not {count}")
