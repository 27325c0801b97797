"""The PostgreSQL pool's accounting holds whatever fails, and at any file number.

A place in the pool that is never given back is lost for good: with every place lost, each
request waits out the pool timeout and answers 503, while no connection is open. These
tests hold file numbers above 1,024 (where `select.select` refuses to look), make every
step of taking and giving back a connection fail in turn, and check /readyz's answer while
no working connection can be had.
"""

import asyncio
import os
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx2 as httpx
import psutil
import psycopg
import pytest
from sqlalchemy import literal, select
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import pool as pool_module
from app.db.pool import AsyncConnectionPool, PoolTimeout
from app.db.postgres import PostgresDatabase
from app.db.statements import Statement
from app.main import create_app
from tests.db.tcp_proxy import TcpProxy, via_port
from tests.db.test_database import (
    _backend_pid,
    _terminate,
    opened,
    postgres_settings,
    run,
    small_pool,
)

__all__ = ["postgres_settings"]  # a fixture, used by name

HIGH_FILE_NUMBER = 1100  # `select.select` watches file numbers 0 to 1,023 only


@contextmanager
def file_numbers_taken_up_to(highest: int) -> Iterator[None]:
    """Every file number up to `highest` held open (the soft RLIMIT_NOFILE raised for it,
    and restored after), so the next socket the process opens gets a higher one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = highest + 256
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard limit on open files is {hard}, below {needed}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    held: list[int] = []
    try:
        while not held or held[-1] < highest:
            held.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_pool_serves_queries_on_sockets_numbered_above_1024(
    postgres_settings: Settings,
) -> None:
    async def scenario() -> tuple[list[object], int, int]:
        async with opened(postgres_settings) as database:
            assert isinstance(database, PostgresDatabase)
            with file_numbers_taken_up_to(HIGH_FILE_NUMBER):
                async with database.pool.connection() as connection:
                    file_number = connection.fileno()
                answers = [await _answer(database, number) for number in range(5)]
            return answers, file_number, database.pool.in_use

    answers, file_number, in_use = run(scenario)

    assert file_number > HIGH_FILE_NUMBER  # the case under test really happened
    assert answers == [0, 1, 2, 3, 4]
    assert in_use == 0


async def _answer(database: PostgresDatabase, number: int) -> object:
    """The query's answer, or the name of the error it raised."""
    try:
        row = await database.fetch_one(Statement(select(literal(number))), {})
    except Exception as error:  # the failure is what the test reports
        return type(error).__name__
    return None if row is None else row[0]


def test_pool_drops_a_dead_idle_connection_numbered_above_1024(
    postgres_settings: Settings,
) -> None:
    """The idle check still looks at high file numbers (rather than skipping them)."""

    async def scenario() -> tuple[int, int, int]:
        pool = small_pool(postgres_settings)
        with file_numbers_taken_up_to(HIGH_FILE_NUMBER):
            async with pool.connection() as connection:
                file_number, first = connection.fileno(), connection.info.backend_pid
            await _terminate(postgres_settings, first)
            second = await _backend_pid(pool)  # no error: the dead one was noticed
        await pool.close()
        return file_number, first, second

    file_number, first, second = run(scenario)

    assert file_number > HIGH_FILE_NUMBER
    assert first != second


# Every step between taking a place and giving it back, made to fail in turn. The pool has
# one place (postgres_settings), so a place kept by mistake shows as a PoolTimeout after.


class Injected(Exception):
    """The fault a test put there."""


def _raise_injected(*_args: Any, **_kwargs: Any) -> Any:
    raise Injected


async def _raise_injected_async(*_args: Any, **_kwargs: Any) -> Any:
    raise Injected


async def _connect_fails(pool: AsyncConnectionPool, monkeypatch: pytest.MonkeyPatch) -> None:
    await pool.close()  # no idle connection: the next request connects
    monkeypatch.setattr(psycopg.AsyncConnection, "connect", _raise_injected_async)
    with pytest.raises(Injected):
        async with pool.connection():
            pass


async def _connect_is_cancelled(
    pool: AsyncConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def never_connects(*_args: Any, **_kwargs: Any) -> None:
        await asyncio.sleep(60)

    await pool.close()
    monkeypatch.setattr(psycopg.AsyncConnection, "connect", never_connects)
    await _cancelled_once_in_use(pool, _backend_pid(pool))


async def _idle_check_fails(pool: AsyncConnectionPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "_has_something_to_read", _raise_injected)
    with pytest.raises(Injected):
        async with pool.connection():
            pass


async def _caller_fails(pool: AsyncConnectionPool, _monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Injected):
        async with pool.connection():
            raise Injected


async def _caller_is_cancelled_mid_query(
    pool: AsyncConnectionPool, _monkeypatch: pytest.MonkeyPatch
) -> None:
    async def slow_query() -> None:
        async with pool.connection() as connection:
            await connection.execute("SELECT pg_sleep(5)")  # statement_timeout: 1 s

    await _cancelled_once_in_use(pool, slow_query())


async def _status_check_fails(pool: AsyncConnectionPool, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = property(_raise_injected)
    with pytest.raises(Injected):
        async with pool.connection():  # released with the check failing
            monkeypatch.setattr(psycopg.ConnectionInfo, "transaction_status", failing)


async def _closing_fails(pool: AsyncConnectionPool, monkeypatch: pytest.MonkeyPatch) -> None:
    close = pool_module._close

    def close_then_fail(connection: psycopg.AsyncConnection[Any]) -> None:
        close(connection)
        raise Injected

    monkeypatch.setattr(pool_module, "_close", close_then_fail)
    with pytest.raises(Injected):
        async with pool.connection():
            raise RuntimeError("the request failed, so its connection is closed")


async def _waiter_times_out(pool: AsyncConnectionPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "_timeout", 0.1)
    async with pool.connection():
        with pytest.raises(PoolTimeout):
            await _backend_pid(pool)


async def _waiter_is_cancelled(
    pool: AsyncConnectionPool, _monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pool.connection():
        waiter = asyncio.create_task(_backend_pid(pool))
        await asyncio.sleep(0.05)
        assert pool.waiting == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter


async def _waiter_is_cancelled_as_the_place_is_handed_over(
    pool: AsyncConnectionPool, _monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pool.connection():
        waiter = asyncio.create_task(_backend_pid(pool))
        await asyncio.sleep(0.05)
        assert pool.waiting == 1
    waiter.cancel()  # handed the place just now, and cancelled before it could run
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def _cancelled_once_in_use(pool: AsyncConnectionPool, work: Awaitable[Any]) -> None:
    task = asyncio.ensure_future(work)
    deadline = time.monotonic() + 2
    while pool.in_use == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert pool.in_use == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


Fault = Callable[[AsyncConnectionPool, pytest.MonkeyPatch], Awaitable[None]]
FAULTS: list[Fault] = [
    _connect_fails,
    _connect_is_cancelled,
    _idle_check_fails,
    _caller_fails,
    _caller_is_cancelled_mid_query,
    _status_check_fails,
    _closing_fails,
    _waiter_times_out,
    _waiter_is_cancelled,
    _waiter_is_cancelled_as_the_place_is_handed_over,
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.__name__.strip("_"))
def test_pool_accounting_recovers_from_a_fault_at_any_step(
    postgres_settings: Settings, monkeypatch: pytest.MonkeyPatch, fault: Fault
) -> None:
    port = make_url(postgres_settings.database_url).port or 5432

    async def scenario() -> list[tuple[int, int, int, int]]:
        others = _sockets_to(port)  # held by anything else in this process
        with connections_kept_alive():
            pool = small_pool(postgres_settings)
            await _backend_pid(pool)  # one idle connection, as in service
            states = [_accounting(pool, port, others)]
            await fault(pool, monkeypatch)
            monkeypatch.undo()
            states.append(_accounting(pool, port, others))
            await _backend_pid(pool)  # the one place is free: no PoolTimeout
            states.append(_accounting(pool, port, others))
            await pool.close()
        return states

    before, after_the_fault, after_a_query = run(scenario)

    assert before == (0, 0, 1, 1)  # in use, waiting, idle, sockets open to the server
    in_use, waiting, idle, sockets = after_the_fault
    assert (in_use, waiting) == (0, 0)
    assert sockets == idle  # every connection the pool dropped was closed, none lost
    assert after_a_query == before


@contextmanager
def connections_kept_alive() -> Iterator[None]:
    """Every connection opened meanwhile stays referenced until the end, so that one the
    pool lost keeps its socket open (the garbage collector would close it unseen)."""
    kept: list[psycopg.AsyncConnection[Any]] = []
    connect = psycopg.AsyncConnection.connect

    async def connect_and_keep(*args: Any, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
        connection = await connect(*args, **kwargs)
        kept.append(connection)
        return connection

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(psycopg.AsyncConnection, "connect", connect_and_keep)
            yield
    finally:
        for connection in kept:
            connection.pgconn.finish()


def _accounting(pool: AsyncConnectionPool, port: int, others: int) -> tuple[int, int, int, int]:
    return pool.in_use, pool.waiting, pool.idle, _sockets_to(port) - others


def _sockets_to(port: int) -> int:
    connections = psutil.Process().net_connections(kind="tcp")
    return sum(1 for c in connections if c.raddr and c.raddr.port == port)


# /readyz runs its PING through the same pool as every request.


def test_readyz_is_503_while_every_connection_is_held_and_200_once_one_is_free(
    postgres_settings: Settings,
) -> None:
    async def scenario() -> tuple[int, int]:
        async with _service(postgres_settings) as (client, database):
            async with database.pool.connection():
                held = await client.get("/readyz")  # waits out the 0.5 s pool timeout
            free = await client.get("/readyz")
        return held.status_code, free.status_code

    assert run(scenario) == (503, 200)


def test_readyz_is_503_at_once_while_the_server_is_away_and_200_when_it_is_back(
    postgres_settings: Settings,
) -> None:
    proxy = TcpProxy(make_url(postgres_settings.database_url).port or 5432)
    proxy.start()
    url = via_port(postgres_settings.database_url, proxy.port)
    settings = postgres_settings.model_copy(update={"database_url": url, "db_pool_timeout": 5.0})

    async def scenario() -> tuple[int, int, float, int]:
        async with _service(settings) as (client, _database):
            before = await client.get("/readyz")
            proxy.stop()  # cuts the idle connection and refuses new ones
            started = time.monotonic()
            away = await client.get("/readyz")
            seconds = time.monotonic() - started
            proxy.start()
            back = await client.get("/readyz")
        return before.status_code, away.status_code, seconds, back.status_code

    try:
        before, away, seconds, back = run(scenario)
    finally:
        proxy.stop()

    assert (before, away, back) == (200, 503, 200)
    assert seconds < 1  # refused at once: not after the 5 s pool timeout


@asynccontextmanager
async def _service(
    settings: Settings,
) -> AsyncIterator[tuple[httpx.AsyncClient, PostgresDatabase]]:
    """The app in this event loop (no lifespan: /readyz needs no tables), so the test can
    hold the pool's connections between requests."""
    app = create_app(settings)
    database = app.state.database
    assert isinstance(database, PostgresDatabase)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client, database
    finally:
        await database.aclose()
        app.state.engine.dispose()


def test_a_connection_that_lost_the_server_closes_the_idle_ones_too(
    postgres_settings: Settings,
) -> None:
    """Without the idle check, three idle connections cut by a server restart cost one
    request, not three: the first that finds its link gone closes the others."""

    async def scenario() -> tuple[list[int], int, int]:
        pool = small_pool(postgres_settings, max_size=3, check_idle=False)
        async with pool.connection() as a, pool.connection() as b, pool.connection() as c:
            pids = [each.info.backend_pid for each in (a, b, c)]
        for pid in pids:
            await _terminate(postgres_settings, pid)
        with pytest.raises(psycopg.OperationalError):
            await _backend_pid_asked(pool)
        idle_after_the_failure = pool.idle
        after = await _backend_pid_asked(pool)
        await pool.close()
        return pids, idle_after_the_failure, after

    pids, idle_after_the_failure, after = run(scenario)

    assert idle_after_the_failure == 0
    assert after not in pids


async def _backend_pid_asked(pool: AsyncConnectionPool) -> int:
    """The backend's pid, as the server answers it (a query, unlike `_backend_pid`)."""
    async with pool.connection() as connection:
        row = await (await connection.execute("SELECT pg_backend_pid()")).fetchone()
        assert row is not None
        pid: int = row[0]
        return pid
