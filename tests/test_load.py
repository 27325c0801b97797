"""Under load the service keeps answering: a real uvicorn process, real sockets, every backend.

Each test runs its clients as asyncio tasks sharing one httpx2.AsyncClient, bounded in
number and in time, then checks every answer and what ends up stored.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx2 as httpx
from sqlalchemy import func
from sqlmodel import Session, select

from app.heroes.models import Hero

CLIENTS = 256
WRITERS = 64
WRITES_PER_WRITER = 4  # each a POST, then a PATCH of the hero it created
REQUEST_TIMEOUT = 30.0  # seconds for any one request
RUN_TIMEOUT = 60.0  # seconds for a whole run of clients

Responses = list[httpx.Response]
Client = Callable[[httpx.AsyncClient, int], Awaitable[Responses]]


@dataclass
class Load:
    """What a run of clients got back: each client's answers, what raised, how long it took."""

    runs: list[Responses]
    errors: list[str]
    elapsed: float

    def failures(self) -> list[str]:
        """Every non-2xx answer and every client that raised (a timeout, a dropped connection)."""
        return [
            f"{response.request.method} {response.status_code} {response.text[:80]}"
            for responses in self.runs
            for response in responses
            if not response.is_success
        ] + self.errors


def run_clients(base_url: str, count: int, client: Client) -> Load:
    """Run `count` copies of `client` at once, all within RUN_TIMEOUT."""

    async def run_all() -> list[Responses | BaseException]:
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        async with httpx.AsyncClient(
            base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT
        ) as http:
            runs = (client(http, number) for number in range(count))
            return await asyncio.wait_for(
                asyncio.gather(*runs, return_exceptions=True), RUN_TIMEOUT
            )

    started = time.monotonic()
    try:
        outcomes = asyncio.run(run_all())
    except TimeoutError:
        raise AssertionError(f"{count} clients did not finish within {RUN_TIMEOUT} s") from None
    return Load(
        runs=[outcome for outcome in outcomes if not isinstance(outcome, BaseException)],
        errors=[repr(outcome) for outcome in outcomes if isinstance(outcome, BaseException)],
        elapsed=time.monotonic() - started,
    )


def assert_all_answered_2xx(load: Load) -> None:
    bad = Counter(load.failures())
    assert not bad, f"{bad.total()} failures in {load.elapsed:.2f} s: {bad.most_common(4)}"


# --- 256 clients ---------------------------------------------------------------------------


async def create_read_list_rename(http: httpx.AsyncClient, number: int) -> Responses:
    """One client's visit: create a hero, read it, read a page of heroes, rename it."""
    created = await http.post(
        "/heroes/", json={"name": f"Load {number}", "age": number, "secret_name": f"S{number}"}
    )
    if not created.is_success:
        return [created]
    hero_id = created.json()["id"]
    read = await http.get(f"/heroes/{hero_id}")
    page = await http.get("/heroes/", params={"limit": 10})
    renamed = await http.patch(f"/heroes/{hero_id}", json={"name": f"Renamed {number}"})
    return [created, read, page, renamed]


def test_256_concurrent_clients_never_deadlock_the_pool_nor_time_out(
    live_server: str, session: Session
) -> None:
    load = run_clients(live_server, CLIENTS, create_read_list_rename)

    print(f"\n{CLIENTS} clients: {4 * CLIENTS} requests in {load.elapsed:.2f} s")
    assert_all_answered_2xx(load)
    for number, (created, read, page, renamed) in enumerate(load.runs):
        hero = {"id": created.json()["id"], "name": f"Load {number}", "age": number}
        assert created.json() == hero
        assert read.json() == hero
        assert 1 <= len(page.json()) <= 10
        assert renamed.json() == hero | {"name": f"Renamed {number}"}
    assert session.exec(select(func.count()).select_from(Hero)).one() == CLIENTS


# --- 64 writers ----------------------------------------------------------------------------


async def write_repeatedly(http: httpx.AsyncClient, number: int) -> Responses:
    """One writer: several times over, create a hero and then set its age."""
    responses = []
    for write in range(WRITES_PER_WRITER):
        created = await http.post(
            "/heroes/", json={"name": f"Writer {number}", "secret_name": f"W{number}.{write}"}
        )
        responses.append(created)
        if not created.is_success:
            break
        responses.append(await http.patch(f"/heroes/{created.json()['id']}", json={"age": write}))
    return responses


def test_64_concurrent_writers_never_find_the_database_locked(
    live_server: str, session: Session
) -> None:
    load = run_clients(live_server, WRITERS, write_repeatedly)

    print(f"\n{WRITERS} writers: {2 * WRITERS * WRITES_PER_WRITER} writes in {load.elapsed:.2f} s")
    # SQLite's busy timeout running out ("database is locked") would answer 503.
    assert_all_answered_2xx(load)
    stored = [(hero.name, hero.secret_name, hero.age) for hero in session.exec(select(Hero))]
    written = [
        (f"Writer {number}", f"W{number}.{write}", write)
        for number in range(WRITERS)
        for write in range(WRITES_PER_WRITER)
    ]
    assert sorted(stored) == sorted(written)
