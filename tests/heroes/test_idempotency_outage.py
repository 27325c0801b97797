"""Idempotency-Key across what a deployment goes through: the service restarted between a
request and its retry, and the database away on the first try.

The database goes away as in tests/db/test_database_failure.py: PostgreSQL and MariaDB
behind a TCP proxy on 127.0.0.1 that the test stops and starts, SQLite as a file whose
directory is not there yet.
"""

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from app.db.migrator import upgrade
from app.main import create_app
from tests.conftest import reachable_server_url, running_server
from tests.db.tcp_proxy import TcpProxy, via_port
from tests.db.test_database_failure import (
    DEFAULT_PORTS,
    SERVER_BACKENDS,
    running_client,
    small_settings,
    wait_for_recovery,
)
from tests.heroes.test_idempotency import DEADPOND, KEY, REPLAYED, assert_replay_of

KEYED = {"Idempotency-Key": KEY}


def test_a_key_survives_a_restart_of_the_service(database_url: str, clean_db: Engine) -> None:
    with running_server(database_url) as server:
        first = httpx.post(f"{server.base_url}/heroes/", json=DEADPOND, headers=KEYED)
    with running_server(database_url) as server:
        retry = httpx.post(f"{server.base_url}/heroes/", json=DEADPOND, headers=KEYED)
        heroes = httpx.get(f"{server.base_url}/heroes/").json()

    assert first.status_code == 200
    assert_replay_of(retry, first)
    assert heroes == [first.json()]


def post_once_database_is_back(client: TestClient) -> httpx.Response:
    """The keyed POST, retried while it answers 503: the first answer that is not."""
    retried, failures = wait_for_recovery(
        lambda: client.post("/heroes/", json=DEADPOND, headers=KEYED)
    )
    assert failures == 0, "the database was back: no 503 should come"
    return retried


def assert_created_once(client: TestClient, retried: httpx.Response) -> None:
    assert (retried.status_code, REPLAYED in retried.headers) == (200, False)
    assert_replay_of(client.post("/heroes/", json=DEADPOND, headers=KEYED), retried)
    assert client.get("/heroes/").json() == [retried.json()]


@pytest.fixture(params=SERVER_BACKENDS)
def proxy_and_url(request: pytest.FixtureRequest) -> Iterator[tuple[TcpProxy, str]]:
    url = reachable_server_url(request.param)
    parsed = make_url(url)
    proxy = TcpProxy(parsed.port or DEFAULT_PORTS[parsed.get_backend_name()])
    proxy.start()
    try:
        yield proxy, url
    finally:
        proxy.stop()


def test_a_503_with_the_server_down_is_not_stored_and_the_retry_creates_once(
    proxy_and_url: tuple[TcpProxy, str],
) -> None:
    proxy, url = proxy_and_url
    with running_client(small_settings(via_port(url, proxy.port)), proxy) as client:
        proxy.stop()
        down = client.post("/heroes/", json=DEADPOND, headers=KEYED)
        proxy.start()
        retried = post_once_database_is_back(client)

        assert down.status_code == 503
        assert down.headers["retry-after"] == "1"
        assert_created_once(client, retried)


def test_a_503_with_the_sqlite_file_away_is_not_stored_and_the_retry_creates_once(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "not-yet"
    url = f"sqlite:///{directory / 'heroes.db'}"
    # No lifespan: migrating at start-up would fail, as it should.
    client = TestClient(create_app(small_settings(url)), raise_server_exceptions=False)

    down = client.post("/heroes/", json=DEADPOND, headers=KEYED)
    directory.mkdir()
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    retried = post_once_database_is_back(client)

    assert down.status_code == 503
    assert_created_once(client, retried)
