"""The data-access layer's own promises, below the HTTP layer (app/db).

The API tests run every statement on every backend; these pin down what the API cannot
show directly: which work waits for what, and how the PostgreSQL pool behaves at its edges.
"""

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.config import Settings, load_settings
from app.db import Database, DatabaseUnavailable, backend_for
from app.db.backends import create_db_engine
from app.db.migrator import upgrade
from app.db.pool import AsyncConnectionPool, PoolTimeout
from app.db.postgres import PostgresDatabase
from app.db.sqlite import SqliteDatabase
from app.db.statements import Statement
from app.heroes import service
from app.heroes.models import HeroCreate
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
