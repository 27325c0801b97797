"""Several worker processes: metrics add up across them, a killed worker is not missed,
and SIGTERM lets every accepted request finish."""

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.ops.load import MixedLoad
from tests.ops.processes import (
    Service,
    running_service,
    scrape,
    start_service,
    stop_service,
    total,
    wait_for,
)

HERO_ROUTE = {"method": "GET", "route": "/heroes/{hero_id}", "status": "200"}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'heroes.db'}"


@pytest.fixture
def two_workers(sqlite_url: str, tmp_path: Path) -> Iterator[Service]:
    with running_service(sqlite_url, tmp_path, workers=None, WEB_CONCURRENCY="2") as service:
        assert len(service.worker_pids()) == 2
        yield service


def create_hero(base_url: str) -> int:
    response = httpx.post(f"{base_url}/heroes/", json={"name": "A", "secret_name": "a"})
    assert response.status_code == 200
    hero_id: int = response.json()["id"]
    return hero_id


def read_on_fresh_connections(base_url: str, hero_id: int, count: int) -> list[int]:
    def read(_: int) -> int:
        return httpx.get(f"{base_url}/heroes/{hero_id}", timeout=10).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(read, range(count)))


def pids_that_served(service: Service, route: str) -> set[int]:
    return {line["pid"] for line in service.logs() if line.get("route") == route}


def test_metrics_add_up_every_worker(two_workers: Service) -> None:
    hero_id = create_hero(two_workers.base_url)
    sent = 0
    # Until the logs show both workers served reads: the kernel picks who accepts.
    while len(pids_that_served(two_workers, HERO_ROUTE["route"])) < 2 and sent < 2000:
        statuses = read_on_fresh_connections(two_workers.base_url, hero_id, 50)
        assert set(statuses) == {200}
        sent += 50
    assert len(pids_that_served(two_workers, HERO_ROUTE["route"])) == 2

    # Whichever worker answers the scrape, it counts every worker's requests.
    for _ in range(10):
        samples = scrape(two_workers.base_url)
        assert total(samples, "heroes_http_requests_total", **HERO_ROUTE) == sent
        assert (
            total(samples, "heroes_http_request_duration_seconds_count", route=HERO_ROUTE["route"])
            == sent
        )
        assert total(samples, "heroes_http_requests_in_flight") == 1  # the scrape


def test_a_killed_worker_is_not_missed(two_workers: Service) -> None:
    hero_id = create_hero(two_workers.base_url)
    load = MixedLoad(two_workers.base_url, threads=2, fresh_connections=True)
    load.start()
    time.sleep(1)
    victim = min(two_workers.live_worker_pids())
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in two_workers.live_worker_pids(), 5, "worker death")
    after_kill = time.monotonic()

    statuses = read_on_fresh_connections(two_workers.base_url, hero_id, 100)
    outcomes = load.stop()

    assert set(statuses) == {200}
    assert {o.status for o in outcomes if o.started >= after_kill} == {200}
    assert httpx.get(f"{two_workers.base_url}/readyz").status_code == 200
    # uvicorn replaces the worker; the dead one's in-flight count is dropped, not summed.
    wait_for(lambda: len(two_workers.live_worker_pids()) == 2, 20, "a replacement worker")
    assert total(scrape(two_workers.base_url), "heroes_http_requests_in_flight") == 1


def slow_post(base_url: str, name: str, gate: threading.Event) -> httpx.Response:
    """A POST whose body arrives in two parts, the second only once `gate` opens."""

    def body() -> Iterator[bytes]:
        yield f'{{"name": "{name}", '.encode()
        gate.wait(timeout=20)
        time.sleep(0.5)  # well after SIGTERM reached the workers
        yield b'"secret_name": "s"}'

    return httpx.post(
        f"{base_url}/heroes/",
        content=body(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )


def test_sigterm_lets_accepted_requests_finish(sqlite_url: str, tmp_path: Path) -> None:
    service = start_service(sqlite_url, tmp_path, workers=2, GRACEFUL_TIMEOUT="20")
    gate = threading.Event()
    load = MixedLoad(service.base_url, threads=2, fresh_connections=True, timeout=10)
    with ThreadPoolExecutor(max_workers=6) as pool:
        slow = [pool.submit(slow_post, service.base_url, f"slow-{n}", gate) for n in range(6)]
        load.start()
        # In flight: the six POSTs, and the scrape itself.
        wait_for(
            lambda: total(scrape(service.base_url), "heroes_http_requests_in_flight") >= 7,
            10,
            "slow POSTs in flight",
        )
        service.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        gate.set()
        answers = [future.result() for future in slow]
    exit_code = stop_service(service)
    outcomes = load.stop()

    assert [answer.status_code for answer in answers] == [200] * 6
    assert exit_code == 0
    # The load's requests: answered 200, or refused at the door after SIGTERM; never a 5xx.
    assert {o.status for o in outcomes} <= {200, None}
    assert all(o.started >= signalled - 0.5 for o in outcomes if o.status is None)
    created = {answer.json()["id"] for answer in answers}
    logged = [
        line
        for line in service.logs()
        if line.get("route") == "/heroes/" and line.get("status") == 200
    ]
    assert len(logged) >= len(created)
    restarted = start_service(sqlite_url, tmp_path, workers=1)
    try:
        for hero_id in created:
            assert httpx.get(f"{restarted.base_url}/heroes/{hero_id}").status_code == 200
    finally:
        stop_service(restarted)
