"""The PostgreSQL pool works at any file number.

A place in the pool that is never given back is lost for good: with every place lost, each
request waits out the pool timeout and answers 503, while no connection is open. These
tests hold file numbers above 1,024, where `select.select` refuses to look.
"""

import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import literal, select

from app.core.config import Settings
from app.core.database.postgres import PostgresDatabase
from tests.core.test_database import (
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
        row = await database.fetch_one(select(literal(number)), {})
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
