"""A real outage seen from outside: `heroes serve` with two workers, under a steady mixed
load, while a private PostgreSQL server of the test's own is stopped and started.

What only a real process shows: the load's requests are 200 or 503 and never slower than the
timeouts, every write acknowledged before or after is stored, /readyz says 503 while /healthz
stays 200, and the operator's view (access logs, metrics summed across workers, the masked
password) agrees with what the clients saw. Request by request, each kind of request, hung
and unreachable servers and idle connections are tests/db/test_database_failure.py's, in
process.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import create_engine, text

from tests.ops.load import MixedLoad, Outcome
from tests.ops.processes import PrivatePostgres, Service, running_service, scrape, total

CONNECT_TIMEOUT = 1
POOL_TIMEOUT = 2
RECOVERY_SECONDS = 5


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


def probe(service: Service, path: str) -> int:
    return httpx.get(f"{service.base_url}{path}", timeout=10).status_code


def stored_ids(url: str, ids: list[int]) -> set[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            stored: set[int] = set(connection.execute(text("SELECT id FROM hero")).scalars())
            return stored & set(ids)
    finally:
        engine.dispose()


def test_postgres_outage_answers_503_then_recovers_and_keeps_every_write(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    timeouts = {"DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT), "DB_POOL_TIMEOUT": str(POOL_TIMEOUT)}
    # The private server trusts local connections: the password is there to be masked.
    url = postgres.url.replace("postgres@", "postgres:hunter2@")
    with running_service(url, tmp_path, workers=2, **timeouts) as service:
        load = MixedLoad(service.base_url, threads=4)
        load.start()
        time.sleep(1.5)
        postgres.stop()
        down_from = time.monotonic()
        time.sleep(1.0)
        while_down = (probe(service, "/readyz"), probe(service, "/healthz"))
        metrics_while_down = scrape(service.base_url)
        time.sleep(1.0)
        down_until = time.monotonic()
        postgres.start()
        up_from = time.monotonic()
        time.sleep(RECOVERY_SECONDS)
        outcomes = load.stop()
        after = (probe(service, "/readyz"), probe(service, "/healthz"))
        metrics_after = scrape(service.base_url)
        logs = service.logs()

    assert_only_200_or_503(outcomes)
    assert_503_while_down(outcomes, down_from, down_until)
    assert_recovered(outcomes, up_from)
    assert while_down == (503, 200)
    assert after == (200, 200)
    written = [o.hero_id for o in outcomes if o.method == "POST" and o.hero_id is not None]
    assert stored_ids(postgres.url, written) == set(written)
    # The operator's view agrees with the clients'.
    served_503 = sum(1 for o in outcomes if o.status == 503)
    logged_503 = [
        line for line in logs if line.get("status") == 503 and line["logger"] == "app.access"
    ]
    assert (
        len([line for line in logged_503 if line["request_id"].startswith("load-")]) == served_503
    )
    assert "hunter2" not in service.output()
    starts = [line for line in logs if line["message"] == "starting"]
    assert len(starts) == 2  # one per worker
    assert starts[0]["database"] == url.replace("hunter2", "***")
    assert total(metrics_while_down, "heroes_errors_total", kind="DatabaseUnavailable") > 0
    assert total(metrics_while_down, "heroes_http_requests_total", status="503") > 0
    served = len([o for o in outcomes if o.status is not None])
    # Every load request is counted, whichever worker served it and whichever one answers.
    assert (
        total(metrics_after, "heroes_http_requests_total", route="/heroes/")
        + total(metrics_after, "heroes_http_requests_total", route="/heroes/{hero_id}")
        == served
    )


def assert_only_200_or_503(outcomes: list[Outcome]) -> None:
    answers = {o.status for o in outcomes}
    assert answers <= {200, 503}, [o for o in outcomes if o.status not in (200, 503)][:5]
    slowest = max(o.ended - o.started for o in outcomes)
    assert slowest < CONNECT_TIMEOUT + POOL_TIMEOUT + 2, slowest


def assert_503_while_down(outcomes: list[Outcome], down_from: float, down_until: float) -> None:
    during = [o for o in outcomes if o.started >= down_from and o.ended <= down_until]
    assert len(during) >= 10
    assert {o.status for o in during} == {503}


def assert_recovered(outcomes: list[Outcome], up_from: float) -> None:
    ok_after = [o for o in outcomes if o.started >= up_from and o.status == 200]
    assert ok_after, "no request succeeded after the restart"
    first = min(o.ended for o in ok_after)
    assert first - up_from < RECOVERY_SECONDS
    last_tenth = [o for o in outcomes if o.started >= up_from + RECOVERY_SECONDS - 1]
    assert {o.status for o in last_tenth} == {200}
