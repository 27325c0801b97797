"""The change feed across instances, on every backend: real `heroes serve` processes over
one database, with and without Redis to wake each other's followers, one of them killed
and restarted under a follower, and nginx in front."""

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis
from sqlalchemy import Engine

from tests.changes.sse import Event, Events, streaming
from tests.conftest import skip_or_fail
from tests.ops.processes import (
    REDIS_TEST_URL,
    PrivateRedis,
    Service,
    running_nginx,
    start_service,
    stop_service,
    wait_for,
)

HEARTBEAT = "0.2"
SLOW_POLL = "30"  # far longer than any wait below: only a wake-up can explain a prompt event
QUICK_POLL = 0.3


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=1).ping()
    except redis.RedisError as error:
        skip_or_fail(f"cannot reach Redis at {REDIS_TEST_URL}: {error}")
    return REDIS_TEST_URL


class Instances:
    """Instances of the service over the test's database, stopped at the end."""

    def __init__(self, database_url: str, directory: Path, stack: ExitStack) -> None:
        self.database_url = database_url
        self.directory = directory
        self.stack = stack

    def start(self, **settings: str) -> Service:
        given: dict[str, Any] = {"CHANGES_HEARTBEAT_SECONDS": HEARTBEAT} | settings
        service = start_service(self.database_url, self.directory, **given)
        self.stack.callback(_stopped, service)
        return service


def _stopped(service: Service) -> None:
    if service.process.poll() is None:
        stop_service(service)


@pytest.fixture
def instances(database_url: str, clean_db: Engine, tmp_path: Path) -> Iterator[Instances]:
    with ExitStack() as stack:
        yield Instances(database_url, tmp_path, stack)


def create_hero(base_url: str, name: str) -> dict[str, Any]:
    response = httpx.post(
        f"{base_url}/heroes/", json={"name": name, "secret_name": "s"}, timeout=10
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def seconds_to_arrive(events: Events, base_url: str, name: str) -> float:
    """Create a hero through `base_url`; the seconds until `events` shows it."""
    started = time.monotonic()
    created = create_hero(base_url, name)
    change = events.next_of("change")
    assert change.json()["id"] == created["id"]
    return time.monotonic() - started


def test_a_change_through_one_instance_reaches_followers_of_the_other_at_once_by_redis(
    instances: Instances, redis_url: str
) -> None:
    prefix = f"heroes-test-{uuid.uuid4().hex}:"
    settings = {
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "CHANGES_POLL_SECONDS": SLOW_POLL,
    }
    one, two = instances.start(**settings), instances.start(**settings)

    with streaming(two.base_url) as events:
        events.next_of("bookmark")
        arrivals = [seconds_to_arrive(events, one.base_url, f"Hero {n}") for n in range(5)]

    # Polling would take up to 30 s: each came within a second, woken through Redis.
    assert max(arrivals) < 1.0, arrivals


def test_without_redis_followers_of_another_instance_hear_of_changes_by_polling(
    instances: Instances,
) -> None:
    settings = {"CHANGES_POLL_SECONDS": str(QUICK_POLL)}
    one, two = instances.start(**settings), instances.start(**settings)

    with streaming(two.base_url) as events:
        events.next_of("bookmark")
        arrivals = [seconds_to_arrive(events, one.base_url, f"Hero {n}") for n in range(3)]

    assert max(arrivals) < QUICK_POLL + 1.0, arrivals


def test_with_redis_down_writes_succeed_and_followers_fall_back_to_polling(
    instances: Instances,
) -> None:
    private = PrivateRedis()
    private.start()
    try:
        settings = {"REDIS_URL": private.url, "CHANGES_POLL_SECONDS": str(QUICK_POLL)}
        one, two = instances.start(**settings), instances.start(**settings)
        with streaming(two.base_url) as events:
            events.next_of("bookmark")
            seconds_to_arrive(events, one.base_url, "Before")
            private.stop()
            during = [seconds_to_arrive(events, one.base_url, f"During {n}") for n in range(3)]
            private.start()
            back = lambda: all(_said(each, "Redis is back") for each in (one, two))  # noqa: E731
            wait_for(back, 10, "Redis is used again")
            after = seconds_to_arrive(events, one.base_url, "After")
            logs = [service.logs() for service in (one, two)]
    finally:
        private.stop()

    assert max(during) < QUICK_POLL + 1.0, during
    assert after < 1.0
    for lines in logs:
        said = [line["message"] for line in lines if line["logger"] == "app.changes"]
        assert len(said) == 2, said  # one warning as Redis went, one as it came back
        assert "Redis unavailable" in said[0]
        assert not [line for line in lines if line["level"] == "ERROR"]


def test_a_follower_resumes_after_its_instance_is_killed_missing_and_doubling_nothing(
    instances: Instances,
) -> None:
    settings = {"CHANGES_POLL_SECONDS": str(QUICK_POLL)}
    writer, reader = instances.start(**settings), instances.start(**settings)
    start = httpx.get(f"{writer.base_url}/changes", timeout=10).json()["position"]
    writes = _Writes(writer.base_url, count=60)

    with streaming(reader.base_url, since=start) as events:
        writes.start()
        events.changes(10)
        reader.kill()  # SIGKILL: no last event, the connection just ends
        with pytest.raises(AssertionError, match="ended"):
            events.until(lambda _: False)
    before_kill = _changes(events.seen)
    restarted = instances.start(**settings)
    with streaming(restarted.base_url, {"Last-Event-ID": _last_id(events)}) as resumed:
        after_restart = resumed.changes(60 - len(before_kill))
        writes.join(timeout=30)

    written = httpx.get(
        f"{writer.base_url}/changes", params={"since": start, "limit": 1000}, timeout=10
    ).json()["changes"]
    followed = [event.json() for event in before_kill + after_restart]
    assert writes.failures == []
    assert len(written) == 60
    assert followed == written  # every change once, in commit order


def test_streams_pass_through_the_shipped_nginx_unbuffered(
    instances: Instances, redis_url: str, tmp_path: Path
) -> None:
    prefix = f"heroes-test-{uuid.uuid4().hex}:"
    settings = {
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "CHANGES_POLL_SECONDS": SLOW_POLL,
    }
    one, two = instances.start(**settings), instances.start(**settings)
    upstreams = [service.base_url.removeprefix("http://") for service in (one, two)]

    with running_nginx(upstreams, tmp_path) as proxy, streaming(proxy) as events:
        events.next_of("bookmark")
        heartbeats = [events.next() for _ in range(2)]
        arrivals = [seconds_to_arrive(events, one.base_url, f"Hero {n}") for n in range(3)]

    assert [event.kind for event in heartbeats] == ["comment", "comment"]
    assert max(arrivals) < 1.0, arrivals  # nginx held none of them back


class _Writes(threading.Thread):
    """Heroes created one after another through one instance, while a follower reads."""

    def __init__(self, base_url: str, count: int) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.count = count
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            for n in range(self.count):
                response = client.post(
                    f"{self.base_url}/heroes/", json={"name": f"Written {n}", "secret_name": "s"}
                )
                if response.status_code != 200:
                    self.failures.append(response.text)
                time.sleep(0.02)


def _changes(events: list[Event]) -> list[Event]:
    return [event for event in events if event.kind == "change"]


def _last_id(events: Events) -> str:
    identified = [event.id for event in events.seen if event.id is not None]
    return identified[-1]


def _said(service: Service, fragment: str) -> bool:
    return any(fragment in line["message"] for line in service.logs())
