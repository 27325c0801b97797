"""The data-access layer's own promises, below the HTTP layer (app/db).

The API tests run every statement on every backend; these pin down what the API cannot
show directly: which work waits for what, and how the PostgreSQL pool behaves at its edges.
"""

import asyncio
import gc
import os
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx
import psycopg
import pytest
from sqlalchemy import create_engine, func, literal, select, text
from sqlalchemy.engine import make_url

from app.config import Settings, load_settings
from app.db import Database, DatabaseUnavailable, Row, backend_for
from app.db.backends import create_db_engine
from app.db.migrator import upgrade
from app.db.pool import AsyncConnectionPool, PoolTimeout
from app.db.postgres import PostgresDatabase
from app.db.sqlite import SqliteDatabase
from app.db.statements import Statement
from app.heroes import service
from app.heroes.models import Hero, HeroCreate
from app.main import create_app
from tests.conftest import reachable_server_url

T = TypeVar("T")
NEW_HERO = HeroCreate(name="Pool Party", secret_name="p", age=3)


def run(work: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await work()

    return asyncio.run(main())


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Database]:
    engine = create_db_engine(settings)
    upgrade(engine)
    database = backend_for(settings).create_database(engine)
    try:
        yield database
    finally:
        await database.aclose()
        engine.dispose()


# SQLite: reads never wait for the write lock; writes wait on their own thread.


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return load_settings(database_url=f"sqlite:///{tmp_path / 'heroes.db'}", sqlite_busy_timeout=1)


@contextmanager
def write_lock_held_elsewhere(settings: Settings) -> Iterator[None]:
    """Another process's writer, in the middle of a long transaction."""
    path = make_url(settings.database_url).database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_sqlite_reads_answer_while_another_writer_holds_the_lock(
    sqlite_settings: Settings,
) -> None:
    async def scenario() -> tuple[float, float, bool]:
        async with opened(sqlite_settings) as database:
            assert isinstance(database, SqliteDatabase)
            hero = await service.create_hero(database, NEW_HERO)
            with write_lock_held_elsewhere(sqlite_settings):
                write = asyncio.create_task(service.create_hero(database, NEW_HERO))
                started = time.monotonic()
                read = await service.get_hero(database, hero.id)
                read_seconds = time.monotonic() - started
                with pytest.raises(DatabaseUnavailable):
                    await write  # gave up after SQLITE_BUSY_TIMEOUT, on its thread
                write_seconds = time.monotonic() - started
            return read_seconds, write_seconds, read == hero

    read_seconds, write_seconds, read_the_hero = run(scenario)

    assert read_the_hero
    assert read_seconds < 0.5  # not behind the lock
    assert 0.9 < write_seconds < 5  # waited out the busy timeout, then a 503


# PostgreSQL: the pool connects on demand, fails fast, and never reuses a doubtful
# connection; a statement has a deadline even if the server freezes.


@pytest.fixture
def postgres_settings() -> Settings:
    return load_settings(
        database_url=reachable_server_url("postgresql"),
        db_pool_size=1,
        db_max_overflow=0,
        worker_threads=1,
        db_pool_timeout=0.5,
        db_statement_timeout=1,
        db_connect_timeout=1,
    )


def small_pool(settings: Settings, **overrides: Any) -> AsyncConnectionPool:
    backend = backend_for(settings)
    database = backend.create_database(backend.create_engine())
    assert isinstance(database, PostgresDatabase)
    pool = database.pool
    for name, value in overrides.items():
        setattr(pool, f"_{name}", value)
    return pool


def test_pool_reuses_one_connection_for_requests_in_turn(postgres_settings: Settings) -> None:
    async def scenario() -> set[int]:
        pool = small_pool(postgres_settings, max_size=3)
        pids = set()
        for _ in range(20):
            async with pool.connection() as connection:
                pids.add(connection.info.backend_pid)
        await pool.close()
        return pids

    assert len(run(scenario)) == 1


def test_pool_hands_a_released_connection_to_the_request_waiting_for_it(
    postgres_settings: Settings,
) -> None:
    async def scenario() -> tuple[int, int, int]:
        pool = small_pool(postgres_settings, timeout=5.0)
        async with pool.connection() as first:
            waiting = asyncio.create_task(_backend_pid(pool))
            await asyncio.sleep(0.05)
            assert pool.waiting == 1
            first_pid = first.info.backend_pid
        second_pid = await waiting
        in_use = pool.in_use
        await pool.close()
        return first_pid, second_pid, in_use

    first_pid, second_pid, in_use = run(scenario)

    assert first_pid == second_pid
    assert in_use == 0


async def _backend_pid(pool: AsyncConnectionPool) -> int:
    async with pool.connection() as connection:
        return connection.info.backend_pid


def test_pool_gives_up_after_its_timeout_and_keeps_working(postgres_settings: Settings) -> None:
    async def scenario() -> float:
        pool = small_pool(postgres_settings, timeout=0.3)
        async with pool.connection():
            started = time.monotonic()
            with pytest.raises(PoolTimeout):
                await _backend_pid(pool)
            waited = time.monotonic() - started
        assert pool.waiting == 0
        await _backend_pid(pool)  # the place is free again
        await pool.close()
        return waited

    assert 0.25 < run(scenario) < 2


def test_pool_never_reuses_a_connection_whose_use_failed(postgres_settings: Settings) -> None:
    async def scenario() -> tuple[int, int]:
        pool = small_pool(postgres_settings)
        used: list[int] = []
        with pytest.raises(RuntimeError):
            await _fail_midway(pool, used)
        (first,) = used
        second = await _backend_pid(pool)
        await pool.close()
        return first, second

    first, second = run(scenario)

    assert first != second


async def _fail_midway(pool: AsyncConnectionPool, used: list[int]) -> None:
    async with pool.connection() as connection:
        used.append(connection.info.backend_pid)
        raise RuntimeError("the request failed midway")


def test_pool_drops_an_idle_connection_the_server_closed(postgres_settings: Settings) -> None:
    async def scenario() -> tuple[int, int]:
        pool = small_pool(postgres_settings)
        first = await _backend_pid(pool)
        await _terminate(postgres_settings, first)
        second = await _backend_pid(pool)  # no error: the dead one was noticed and dropped
        await pool.close()
        return first, second

    first, second = run(scenario)

    assert first != second


async def _terminate(settings: Settings, pid: int) -> None:
    url = make_url(settings.database_url).set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    await asyncio.sleep(0.2)  # the server's goodbye reaches the idle socket


def test_postgresql_statement_over_the_timeout_is_503(postgres_settings: Settings) -> None:
    async def scenario() -> float:
        async with opened(postgres_settings) as database:
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await database.fetch_one(Statement(select(func.pg_sleep(3))), {})
            seconds = time.monotonic() - started
            hero = await service.create_hero(database, NEW_HERO)  # and it still works
            assert await service.get_hero(database, hero.id) == hero
            return seconds

    assert run(scenario) < 2.5


def test_postgresql_server_frozen_mid_query_is_503_by_the_client_deadline(
    postgres_settings: Settings,
) -> None:
    """A frozen server enforces no statement timeout; the client's own deadline
    (DB_STATEMENT_TIMEOUT + DB_CONNECT_TIMEOUT) ends the wait. One backend process of the
    local server is stopped (SIGSTOP) and resumed; nothing else is touched."""

    async def scenario() -> float:
        async with opened(postgres_settings) as database:
            hero = await service.create_hero(database, NEW_HERO)
            row = await database.fetch_one(Statement(select(func.pg_backend_pid())), {})
            assert row is not None
            with _frozen(row[0]):
                started = time.monotonic()
                with pytest.raises(DatabaseUnavailable):
                    await service.get_hero(database, hero.id)
                seconds = time.monotonic() - started
            assert await service.get_hero(database, hero.id) == hero  # a new connection
            return seconds

    assert 1.5 < run(scenario) < 4


@contextmanager
def _frozen(pid: int) -> Iterator[None]:
    try:
        os.kill(pid, signal.SIGSTOP)
    except (PermissionError, ProcessLookupError):
        pytest.skip("the PostgreSQL server is not a local process this test may signal")
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


# Every backend: a statement over DB_STATEMENT_TIMEOUT is a 503 within about the timeout,
# and it is stopped where it runs, not left running after the request gave up.

SLOW_MARK = "harden_slow_probe"  # finds the statement among the server's
COUNT_HEROES = Statement(select(func.count()).select_from(Hero))


def slow_statement(backend: str, seconds: int) -> Statement:
    """A statement that runs for about `seconds` (SQLite: longer), labelled SLOW_MARK."""
    if backend == "postgresql":
        return Statement(select(func.pg_sleep(seconds).label(SLOW_MARK)))
    if backend == "mariadb":
        return Statement(select(func.sleep(seconds).label(SLOW_MARK)))
    return Statement(select(func.count().label(SLOW_MARK)).select_from(counting(10**9)))


def counting(upto: int) -> Any:
    """A recursive CTE of the numbers 1 to `upto`: SQLite takes about a second per 10**7."""
    numbers = select(literal(1).label("n")).cte("numbers", recursive=True)
    return numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < upto))


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def timeout_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    backend: str = request.param
    url = (
        f"sqlite:///{tmp_path / 'heroes.db'}"
        if backend == "sqlite"
        else reachable_server_url(backend)
    )
    return load_settings(
        database_url=url,
        db_statement_timeout=1,
        sqlite_reader_threads=1,
        db_pool_size=2,
        worker_threads=2,
    )


def test_a_statement_over_the_timeout_is_503_within_it_and_stopped_where_it_ran(
    timeout_settings: Settings,
) -> None:
    backend = make_url(timeout_settings.database_url).get_backend_name()

    async def scenario() -> tuple[float, list[str], float]:
        async with opened(timeout_settings) as database:
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await database.fetch_one(slow_statement(backend, 4), {})
            seconds = time.monotonic() - started
            await asyncio.sleep(0.2)
            still_running = await asyncio.to_thread(running_slow_statements, timeout_settings)
            started = time.monotonic()  # the same connection or thread serves again
            before = await count_heroes(database)
            hero = await service.create_hero(database, NEW_HERO)
            assert await count_heroes(database) == before + 1
            assert await service.get_hero(database, hero.id) == hero
            return seconds, still_running, time.monotonic() - started

    seconds, still_running, next_seconds = run(scenario)

    assert 0.9 < seconds < 2.0
    assert still_running == []
    assert next_seconds < 0.5


async def count_heroes(database: Database) -> int:
    row = await database.fetch_one(COUNT_HEROES, {})
    assert row is not None
    return int(row[0])


def running_slow_statements(settings: Settings) -> list[str]:
    """The slow statements the server still runs (SQLite: none can outlive its thread)."""
    url = make_url(settings.database_url)
    queries = {
        "postgresql": "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
        "AND state = 'active' AND pid <> pg_backend_pid() AND query LIKE :mark",
        "mariadb": "SELECT info FROM information_schema.processlist WHERE db = DATABASE() "
        "AND id <> CONNECTION_ID() AND info LIKE :mark",
    }
    if url.get_backend_name() not in queries:
        return []
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = text(queries[url.get_backend_name()])
            return list(connection.execute(query, {"mark": f"%{SLOW_MARK}%"}).scalars())
    finally:
        engine.dispose()


# SQLite: a long read runs off the event loop, so everything else keeps being served.


def test_sqlite_serves_healthz_and_point_reads_while_a_long_read_runs(tmp_path: Path) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'heroes.db'}", db_statement_timeout=2
    )
    slow = Statement(select(func.count()).select_from(counting(3 * 10**7)))

    async def scenario() -> tuple[list[float], float]:
        async with served(settings) as (client, database):
            hero = (await client.post("/heroes/", json={"name": "A", "secret_name": "a"})).json()
            started = time.monotonic()
            long_read = asyncio.create_task(database.fetch_one(slow, {}))
            await asyncio.sleep(0.1)
            answered = []
            for path in ["/healthz", f"/heroes/{hero['id']}", "/healthz", "/heroes/"] * 3:
                asked = time.monotonic()
                response = await client.get(path)
                assert response.status_code == 200, response.text
                answered.append(time.monotonic() - asked)
                await asyncio.sleep(0.1)
            with pytest.raises(DatabaseUnavailable):
                await long_read
            return answered, time.monotonic() - started

    gc.disable()  # a full collection of the whole suite's heap would stall the loop too
    try:
        answered, long_read_seconds = run(scenario)
    finally:
        gc.enable()

    assert max(answered) < 0.3, answered  # on the loop, the read held each for 2 s and more
    assert 1.9 < long_read_seconds < 3.0


def test_sqlite_short_reads_run_often_stay_on_the_loop(tmp_path: Path) -> None:
    """SQLite counts a prepared statement's steps over all its runs: a budget of steps
    would have sent every few runs of an ordinary page to a reader thread."""
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'heroes.db'}")
    page = Statement(select(func.count()).select_from(counting(200)))  # 3,400 steps a run

    async def scenario() -> list[Row | None]:
        async with served(settings) as (_client, database):
            assert isinstance(database, SqliteDatabase)
            answers = [await database.fetch_one(page, {}) for _ in range(200)]
            assert database.reads_moved_off_loop == 0
            return answers

    assert run(scenario) == [(200,)] * 200


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    """The app on this event loop, over a migrated database: requests and the test's own
    statements share one loop, as requests share a worker's."""
    app = create_app(settings)
    upgrade(app.state.engine)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client, app.state.database
    finally:
        await app.state.database.aclose()
        app.state.engine.dispose()


# SQLite: a write waits for another process's write lock SQLITE_BUSY_TIMEOUT in all.


def test_sqlite_queued_writes_give_up_within_the_busy_timeout_of_their_arrival(
    sqlite_settings: Settings,
) -> None:
    async def attempt(database: Database) -> float:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            await service.create_hero(database, NEW_HERO)
        return time.monotonic() - started

    async def scenario() -> tuple[list[float], int]:
        async with opened(sqlite_settings) as database:
            with write_lock_held_elsewhere(sqlite_settings):
                waited = await asyncio.gather(*(attempt(database) for _ in range(6)))
            return list(waited), await count_heroes(database)

    waited, stored = run(scenario)

    assert all(0.9 < seconds < 1.6 for seconds in waited), waited  # SQLITE_BUSY_TIMEOUT=1
    assert stored == 0
