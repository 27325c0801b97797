"""A database that goes away costs 503s for a few seconds, never a hang, a 500 or a restart:
fault injection in process, request by request.

The app runs under TestClient; PostgreSQL and MariaDB are reached through a small TCP proxy
on 127.0.0.1 (tests/db/tcp_proxy.py): stopping it closes its port and cuts every open
connection, as a server that goes down does, starting it again on the same port is the
server coming back, and starting it without forwarding is a server that hangs. Each kind of
request (read, list, create, update, delete) must answer 503 within its deadline, idle
connections cut under the pool must cost at most one request, and SQLite's file that cannot
be opened behaves the same. The real servers are never touched.

A real `heroes serve` process with several workers, under load, through a real server's
stop and start, with what its logs and metrics tell the operator, is
tests/ops/test_database_outage.py.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from app.config import Settings, load_settings
from app.db import DatabaseUnavailable
from app.http.errors import answer_for
from app.main import create_app
from tests.conftest import empty_tables, reachable_server_url
from tests.db.tcp_proxy import TcpProxy, via_port
from tests.service_process import free_port

SERVER_BACKENDS = ("postgresql", "mariadb")
ANSWER_WITHIN = 5.0  # seconds: a request while the database is away gets its 503 by then
RECOVER_WITHIN = 5.0  # seconds: after the database is back, requests succeed by then
HERO_KEYS = {"id", "name", "age"}
DEFAULT_PORTS = {"postgresql": 5432, "mariadb": 3306}
NOT_LISTENING_URLS = {
    "postgresql": "postgresql://postgres@127.0.0.1:{port}/test",
    "mariadb": "mariadb://root@127.0.0.1:{port}/test",
}


def small_settings(database_url: str, **overrides: object) -> Settings:
    return load_settings(
        database_url=database_url,
        environment="test",
        db_pool_size=4,
        db_max_overflow=2,
        worker_threads=4,
        db_migrate_on_start="true",  # as a fresh deployment that migrates on start
        **overrides,
    )


def timed(call: Callable[[], httpx.Response], within: float) -> tuple[httpx.Response, float]:
    """The response and the seconds it took; fails if no answer comes within `within`.

    The call runs on its own thread, so a hung request fails the test instead of hanging
    it; the fixtures then stop the proxy, which cuts the connection the request waits on.
    """
    outcome: list[httpx.Response | BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as error:  # re-raised on the test's thread
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(within)
    seconds = time.monotonic() - started
    if thread.is_alive():
        pytest.fail(f"no answer within {within} s: the request hangs")
    (result,) = outcome
    if isinstance(result, BaseException):
        raise result
    return result, seconds


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": answer_for(DatabaseUnavailable).detail}
    assert response.headers["retry-after"] == "1"


def every_kind_of_request(client: TestClient, hero_id: int) -> dict[str, Callable[[], Any]]:
    return {
        "read one": lambda: client.get(f"/heroes/{hero_id}"),
        "list": lambda: client.get("/heroes/"),
        "create": lambda: client.post("/heroes/", json={"name": "New", "secret_name": "n"}),
        "update": lambda: client.patch(f"/heroes/{hero_id}", json={"age": 99}),
        "delete": lambda: client.delete(f"/heroes/{hero_id}"),
    }


def assert_every_request_is_503_in_time(
    client: TestClient, hero_id: int, kinds: tuple[str, ...] | None = None
) -> None:
    for name, call in every_kind_of_request(client, hero_id).items():
        if kinds is not None and name not in kinds:
            continue
        response, seconds = timed(call, within=ANSWER_WITHIN)

        assert_unavailable(response)
        assert seconds < ANSWER_WITHIN, f"{name} took {seconds:.2f} s"


def wait_for_recovery(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, int]:
    """Poll until a request succeeds: its response and how many 503s came first."""
    deadline = time.monotonic() + RECOVER_WITHIN
    failures = 0
    while True:
        response, _seconds = timed(call, within=ANSWER_WITHIN)
        if response.status_code != 503:
            return response, failures
        assert_unavailable(response)
        failures += 1
        assert time.monotonic() < deadline, f"still 503 after {RECOVER_WITHIN} s"
        time.sleep(0.1)


@pytest.fixture(params=SERVER_BACKENDS)
def server_url(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return reachable_server_url(backend)


@pytest.fixture
def proxy(server_url: str) -> Iterator[TcpProxy]:
    url = make_url(server_url)
    proxy = TcpProxy(url.port or DEFAULT_PORTS[url.get_backend_name()])
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@contextmanager
def running_client(settings: Settings, proxy: TcpProxy) -> Iterator[TestClient]:
    """The service, started (the lifespan migrates) with no heroes, over the proxy."""
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        empty_tables(app.state.engine)
        try:
            yield client
        finally:
            proxy.stop()  # before the lifespan ends: cuts any request still waiting


@pytest.fixture
def client(server_url: str, proxy: TcpProxy) -> Iterator[TestClient]:
    with running_client(small_settings(via_port(server_url, proxy.port)), proxy) as client:
        yield client


@pytest.fixture
def client_without_pre_ping(server_url: str, proxy: TcpProxy) -> Iterator[TestClient]:
    settings = small_settings(via_port(server_url, proxy.port), db_pool_pre_ping=False)
    with running_client(settings, proxy) as client:
        yield client


def create_hero(client: TestClient) -> dict[str, Any]:
    response = client.post("/heroes/", json={"name": "Survivor", "secret_name": "S", "age": 7})
    assert response.status_code == 200, response.text
    hero: dict[str, Any] = response.json()
    assert client.get(f"/heroes/{hero['id']}").json() == hero
    return hero


def test_server_down_is_503_for_every_request_then_recovers_without_restart(
    client: TestClient, proxy: TcpProxy
) -> None:
    hero = create_hero(client)

    proxy.stop()
    assert_every_request_is_503_in_time(client, hero["id"])
    proxy.start()
    response, _failures = wait_for_recovery(lambda: client.get(f"/heroes/{hero['id']}"))

    assert response.status_code == 200, response.text
    assert response.json() == hero  # written before the cut, untouched by the 503s
    assert client.get("/heroes/").json() == [hero]
    created = client.post("/heroes/", json={"name": "After", "secret_name": "a"})
    assert created.status_code == 200, created.text
    assert set(created.json()) == HERO_KEYS
    updated = client.patch(f"/heroes/{hero['id']}", json={"age": 8})
    assert updated.json() == hero | {"age": 8}
    assert client.delete(f"/heroes/{created.json()['id']}").json() == {"ok": True}


def test_connections_cut_while_idle_cost_no_failed_request_with_pre_ping(
    client: TestClient, proxy: TcpProxy
) -> None:
    hero = create_hero(client)  # leaves a connection idle in the pool

    proxy.stop()  # cuts it
    proxy.start()
    response = client.get(f"/heroes/{hero['id']}")

    assert response.status_code == 200, response.text
    assert response.json() == hero


def test_connections_cut_while_idle_recover_without_pre_ping(
    client_without_pre_ping: TestClient, proxy: TcpProxy
) -> None:
    client = client_without_pre_ping
    hero = create_hero(client)

    proxy.stop()
    proxy.start()
    response, failures = wait_for_recovery(lambda: client.get(f"/heroes/{hero['id']}"))

    assert response.status_code == 200, response.text
    assert response.json() == hero
    assert failures <= 1  # only the request that found the dead connection
    for _ in range(3):
        assert client.get(f"/heroes/{hero['id']}").status_code == 200


def test_server_that_accepts_but_never_answers_is_503_within_the_timeouts(
    server_url: str, proxy: TcpProxy
) -> None:
    settings = small_settings(
        via_port(server_url, proxy.port), db_connect_timeout=1, db_statement_timeout=2
    )
    with running_client(settings, proxy) as client:
        hero = create_hero(client)
        proxy.stop()
        proxy.start(forward=False)  # a hung server: connections accepted, never answered

        # A read and a write (each waits out the timeout: libpq rounds 1 s up to 2 s).
        assert_every_request_is_503_in_time(client, hero["id"], kinds=("read one", "create"))


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_server_not_listening_is_503_quickly(backend: str) -> None:
    url = NOT_LISTENING_URLS[backend].format(port=free_port())  # nothing listens there
    # No lifespan: creating the tables at startup would fail, as it should.
    client = TestClient(create_app(small_settings(url)), raise_server_exceptions=False)

    assert_every_request_is_503_in_time(client, hero_id=1)


def test_sqlite_file_that_cannot_be_opened_is_503_then_recovers(tmp_path: Path) -> None:
    # SQLite needs no server to go down: its file is what becomes unreachable. An open
    # connection keeps its file descriptor whatever happens to the path (and chmod does not
    # stop root), so the service starts on a path whose directory does not exist: every
    # connection attempt fails with "unable to open database file", even as root. Creating
    # the directory and schema (as a deployment would) must then bring the same running app
    # back. No lifespan: creating the tables at startup would fail, as it should.
    directory = tmp_path / "not-yet"
    url = f"sqlite:///{directory / 'heroes.db'}"
    client = TestClient(create_app(small_settings(url)), raise_server_exceptions=False)

    assert_every_request_is_503_in_time(client, hero_id=1)

    directory.mkdir()
    engine = create_engine(url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    response, failures = wait_for_recovery(
        lambda: client.post("/heroes/", json={"name": "Back", "secret_name": "b"})
    )

    assert response.status_code == 200, response.text
    assert failures == 0
    assert client.get(f"/heroes/{response.json()['id']}").json() == response.json()
