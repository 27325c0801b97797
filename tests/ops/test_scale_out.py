"""Two instances of the service behind nginx, sharing PostgreSQL and Redis."""

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import reachable_server_url
from tests.ops.processes import (
    Service,
    running_nginx,
    running_service,
    scrape,
    total,
)

RATE = 0.5
BURST = 20


@pytest.fixture
def postgres_url() -> str:
    return reachable_server_url("postgresql")


@pytest.fixture
def instances(postgres_url: str, redis_url: str, tmp_path: Path) -> Iterator[list[Service]]:
    settings = {
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": f"heroes-test-{uuid.uuid4().hex}:",
        "RATE_LIMIT_PER_SECOND": str(RATE),
        "RATE_LIMIT_BURST": str(BURST),
        "RATE_LIMIT_CLIENT_HEADER": "X-Forwarded-For",
    }
    with ExitStack() as stack:
        # One after the other: the first creates the table.
        yield [
            stack.enter_context(running_service(postgres_url, tmp_path, workers=1, **settings))
            for _ in range(2)
        ]


def test_two_instances_behind_nginx_share_heroes_and_one_rate_limit(
    instances: list[Service], tmp_path: Path
) -> None:
    one, two = instances
    upstreams = [service.base_url.removeprefix("http://") for service in instances]
    with running_nginx(upstreams, tmp_path) as proxy:
        started = time.monotonic()
        created = httpx.post(
            f"{one.base_url}/heroes/", json={"name": "Shared", "secret_name": "s"}
        )
        read = httpx.get(f"{two.base_url}/heroes/{created.json()['id']}")
        through_proxy = [
            httpx.get(f"{proxy}/heroes/{created.json()['id']}") for _ in range(3 * BURST)
        ]
        elapsed = time.monotonic() - started
        ready = httpx.get(f"{proxy}/readyz")
    counted = [
        total(scrape(service.base_url), "heroes_errors_total", kind="RateLimited")
        for service in instances
    ]

    assert created.status_code == 200
    assert read.status_code == 200
    assert read.json() == created.json()
    served = [r for r in through_proxy if r.status_code == 200]
    refused = [r for r in through_proxy if r.status_code == 429]
    assert len(served) + len(refused) == len(through_proxy)
    assert all(r.json() == created.json() for r in served)
    # Both instances answered, from one shared budget: alone, each would allow BURST.
    assert {r.headers["x-upstream"] for r in served} == set(upstreams)
    assert {r.headers["x-upstream"] for r in refused} == set(upstreams)
    # The two direct requests drew on the same budget: nginx and the test share an address.
    allowed = len(served) + 2
    assert BURST <= allowed <= BURST + RATE * elapsed
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert ready.status_code == 200
    assert sum(counted) == len(refused)  # each instance's /metrics counts its own 429s
