"""The per-client rate limit (in memory, and shared through Redis), CORS, and readiness
against a database that cannot be reached."""

import asyncio
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import load_settings
from app.http.ratelimit import Limiter, LocalWindows, window_of
from app.main import create_app
from tests.ops.conftest import JsonLines
from tests.ops.processes import PrivateRedis, running_service
from tests.service_process import free_port


def make_app(tmp_path: Path, **settings: object) -> FastAPI:
    url = f"sqlite:///{tmp_path / 'heroes.db'}"
    return create_app(load_settings(database_url=url, environment="test", **settings))


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def statuses(client: TestClient, count: int, **headers: str) -> list[int]:
    return [client.get("/heroes/", headers=headers).status_code for _ in range(count)]


def clear_of_a_window_edge(seconds: int, margin: float = 0.5) -> None:
    """Wait for the next window if this one ends within `margin`: in memory, windows are
    aligned on the clock, and a burst split between two would be counted differently."""
    left = seconds - time.time() % seconds
    if left < margin:
        time.sleep(left + 0.01)


def test_the_rate_limit_is_off_by_default(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path)) as client:
        assert set(statuses(client, 150)) == {200}


def test_over_the_burst_a_client_gets_429_with_retry_after(tmp_path: Path) -> None:
    app = make_app(tmp_path, rate_limit_per_second=0.5, rate_limit_burst=5)
    with TestClient(app) as client:
        clear_of_a_window_edge(10)
        assert statuses(client, 5) == [200] * 5
        most_left = math.ceil(10 - time.time() % 10)
        response = client.get("/heroes/")
        least_left = math.ceil(10 - time.time() % 10)

    assert response.status_code == 429
    assert response.json() == {"detail": "Too many requests, slow down"}
    # 5 requests per 10-second window: the first comes back when this window ends.
    assert least_left <= int(response.headers["retry-after"]) <= most_left
    assert response.headers["x-request-id"]


def test_tokens_come_back_at_the_rate(tmp_path: Path) -> None:
    # 2 requests per 1-second window; the spent window's 2 slide out at 2 per second.
    app = make_app(tmp_path, rate_limit_per_second=2, rate_limit_burst=2)
    with TestClient(app) as client:
        clear_of_a_window_edge(1)
        assert statuses(client, 3) == [200, 200, 429]
        time.sleep(1.1 - time.time() % 1)  # 0.1 s into the next window: 1.8 of 2 still count
        assert statuses(client, 2) == [200, 429]
        time.sleep(0.5)  # 0.6 s in: 0.8 of the 2 still count, beside this window's 1
        assert statuses(client, 1) == [200]


def test_health_and_metrics_are_never_limited(tmp_path: Path) -> None:
    app = make_app(tmp_path, rate_limit_per_second=0.1, rate_limit_burst=1)
    with TestClient(app) as client:
        clear_of_a_window_edge(10)
        assert statuses(client, 2) == [200, 429]
        for path in ("/healthz", "/readyz", "/metrics"):
            assert client.get(path).status_code == 200
        assert 'kind="RateLimited"' in client.get("/metrics").text


def test_clients_are_told_apart_by_the_trusted_header(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        rate_limit_per_second=0.1,
        rate_limit_burst=2,
        rate_limit_client_header="X-Forwarded-For",
    )
    with TestClient(app) as client:
        first = {"X-Forwarded-For": "203.0.113.7"}
        # A client cannot pick its own bucket: the proxy appends the address it saw.
        spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
        clear_of_a_window_edge(20)
        assert statuses(client, 2, **first) + statuses(client, 1, **spoofed) == [200, 200, 429]
        assert statuses(client, 2, **{"X-Forwarded-For": "203.0.113.8"}) == [200, 200]


def test_a_client_line_before_the_proxy_line_does_not_choose_the_key(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        rate_limit_per_second=0.1,
        rate_limit_burst=2,
        rate_limit_client_header="X-Forwarded-For",
    )
    with TestClient(app) as client:
        clear_of_a_window_edge(20)
        # The client's own line first, then the line a proxy such as HAProxy adds.
        answered = [
            client.get("/heroes/", headers=forwarded_for(f"198.51.100.{n}", "203.0.113.7"))
            for n in range(3)
        ]

    assert [response.status_code for response in answered] == [200, 200, 429]


def forwarded_for(*lines: str) -> list[tuple[str, str]]:
    return [("X-Forwarded-For", line) for line in lines]


@pytest.mark.parametrize(
    ("forwarded_allow_ips", "expected"),
    [(None, [200, 200, 429]), ("127.0.0.1", [200, 200, 200])],
    ids=["unset", "loopback-trusted"],
)
def test_heroes_serve_believes_x_forwarded_for_only_from_forwarded_allow_ips(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    forwarded_allow_ips: str | None,
    expected: list[int],
) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)  # uvicorn reads it too
    settings = {"RATE_LIMIT_PER_SECOND": "0.1", "RATE_LIMIT_BURST": "2"}
    if forwarded_allow_ips is not None:
        settings["FORWARDED_ALLOW_IPS"] = forwarded_allow_ips
    with running_service(f"sqlite:///{tmp_path / 'heroes.db'}", tmp_path, **settings) as service:
        clear_of_a_window_edge(20)
        answered = [
            httpx.get(
                f"{service.base_url}/heroes/", headers={"X-Forwarded-For": f"198.51.100.{n}"}
            )
            for n in range(3)
        ]

    # Each forged address its own budget only when the peer (127.0.0.1) is trusted.
    assert [response.status_code for response in answered] == expected


def test_a_flood_of_addresses_drops_the_stalest_windows_not_all() -> None:
    async def flood() -> tuple[int, float | None]:
        limiter = Limiter(LocalWindows(window_of(0.1, 2), max_keys=100))
        for n in range(1050):
            await limiter.acquire(f"flood-{n}")
        kept = len(limiter.local.storage.expirations)
        await limiter.acquire("regular")
        await limiter.acquire("regular")
        for n in range(60):  # fewer than max_keys: the regular client's window is kept
            await limiter.acquire(f"later-{n}")
        return kept, await limiter.acquire("regular")

    clear_of_a_window_edge(20)
    kept, regular_wait = asyncio.run(flood())

    assert kept == 100
    assert regular_wait is not None  # still over its budget


def test_the_library_drops_expired_windows_on_its_own() -> None:
    async def expire() -> int:
        local = LocalWindows(window_of(1, 1))  # 1-second windows, each kept for two
        for n in range(100):
            await local.wait(f"client-{n}")
        await asyncio.sleep(2.1)
        await local.wait("one-more")
        await asyncio.sleep(0.01)  # the library's expiry task, started by that request
        return len(local.storage.expirations)

    assert asyncio.run(expire()) == 1


def test_redis_shares_one_budget_between_two_apps(tmp_path: Path, redis_url: str) -> None:
    limits = {"rate_limit_per_second": 0.1, "rate_limit_burst": 6, "redis_url": redis_url}
    prefix = f"heroes-test-{uuid.uuid4().hex}:"
    one = make_app(tmp_path, redis_key_prefix=prefix, **limits)
    two = make_app(tmp_path, redis_key_prefix=prefix, **limits)
    with TestClient(one) as first, TestClient(two) as second:
        answered = [
            status for _ in range(6) for status in statuses(first, 1) + statuses(second, 1)
        ]

    assert answered.count(200) == 6
    assert answered.count(429) == 6


def test_without_redis_the_limit_is_local_and_the_service_serves(
    tmp_path: Path, json_logs: JsonLines
) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    app = make_app(tmp_path, rate_limit_per_second=0.1, rate_limit_burst=3, redis_url=unreachable)
    with TestClient(app) as client:
        assert statuses(client, 4) == [200, 200, 200, 429]

    warnings = [line for line in json_logs.lines if _the_limit_s_warning(line)]
    assert len(warnings) == 1  # once per outage, not once per request
    assert "Redis unavailable" in warnings[0]["message"]


def test_redis_going_away_and_coming_back(
    tmp_path: Path, private_redis: PrivateRedis, json_logs: JsonLines
) -> None:
    app = make_app(
        tmp_path, rate_limit_per_second=0.1, rate_limit_burst=3, redis_url=private_redis.url
    )
    with TestClient(app) as client:
        assert statuses(client, 2) == [200, 200]  # two of Redis' three tokens
        private_redis.stop()
        # Local buckets while Redis is away: a fresh budget of three, then 429.
        assert statuses(client, 4) == [200, 200, 200, 429]
        private_redis.start()  # empty: a fresh bucket once the limiter retries Redis
        time.sleep(1.1)
        assert statuses(client, 4) == [200, 200, 200, 429]

    messages = [line["message"] for line in json_logs.lines if _the_limit_s_warning(line)]
    assert len(messages) == 2
    assert "Redis unavailable" in messages[0]
    assert "Redis is back" in messages[1]


def _the_limit_s_warning(line: dict[str, Any]) -> bool:
    """(The change feed warns of the same outage, in its own words: tests/changes.)"""
    return bool(line["level"] == "WARNING" and line["logger"] == "app.http.ratelimit")


def test_cors_allows_the_configured_origins_only(tmp_path: Path) -> None:
    app = make_app(tmp_path, cors_allow_origins="https://ui.example")
    preflight = {"Access-Control-Request-Method": "POST"}
    with TestClient(app) as client:
        allowed = client.options("/heroes/", headers={"Origin": "https://ui.example"} | preflight)
        refused = client.options(
            "/heroes/", headers={"Origin": "https://evil.example"} | preflight
        )
        simple = client.get("/heroes/", headers={"Origin": "https://ui.example"})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://ui.example"
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == "https://ui.example"
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


def test_readyz_is_503_while_the_database_cannot_be_reached(json_logs: JsonLines) -> None:
    url = f"postgresql://heroes:hunter2@127.0.0.1:{free_port()}/heroes"
    app = create_app(load_settings(database_url=url, db_connect_timeout=1))
    client = TestClient(app)  # no lifespan: it would create the tables

    ready = client.get("/readyz", headers={"X-Request-ID": "ready-1"})
    live = client.get("/healthz")

    assert ready.status_code == 503
    assert ready.json() == {"detail": "Database unavailable, try again shortly"}
    assert ready.headers["retry-after"] == "1"
    assert live.status_code == 200
    lines = json_logs.of("ready-1")
    assert [line["logger"] for line in lines] == ["app.db", "app.access", "app.errors"]
    assert lines[2]["kind"] == "DatabaseUnavailable"
    assert "hunter2" not in repr(json_logs.lines)
