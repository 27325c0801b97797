"""A statement or transaction the database ends to break a deadlock runs again, on the
server backends (SQLite's one writer has no deadlocks): a single statement as well as a
transaction of steps, and never as an unhandled error.

The deadlock is made deterministic by a SQL function that reports one (the server's own
deadlock error code) the first `failures` times it runs: a sequence counts the runs, since
a sequence's value survives the rollback of the statement that took it.
"""

import asyncio

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from app.config import load_settings
from app.db import Database, DatabaseUnavailable, backend_for
from app.db.backends import create_db_engine
from app.db.database import TRANSACTION_ATTEMPTS, Step
from app.db.statements import Statement
from tests.conftest import SERVER_BACKENDS, empty_server_database

_SETUP = {
    "postgresql": [
        "DROP FUNCTION IF EXISTS flaky_deadlock",
        "DROP SEQUENCE IF EXISTS flaky_runs",
        "CREATE SEQUENCE flaky_runs",
        "CREATE FUNCTION flaky_deadlock(failures integer) RETURNS integer LANGUAGE plpgsql AS $$"
        " BEGIN IF nextval('flaky_runs') <= failures THEN"
        " RAISE EXCEPTION 'deadlock' USING ERRCODE = 'deadlock_detected'; END IF;"
        " RETURN 1; END $$",
    ],
    "mariadb": [
        "DROP FUNCTION IF EXISTS flaky_deadlock",
        "DROP SEQUENCE IF EXISTS flaky_runs",
        "CREATE SEQUENCE flaky_runs",
        "CREATE FUNCTION flaky_deadlock(failures INT) RETURNS INT NOT DETERMINISTIC"
        " BEGIN IF NEXTVAL(flaky_runs) <= failures THEN"
        " SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, MESSAGE_TEXT = 'deadlock'; END IF;"
        " RETURN 1; END",
    ],
}


@pytest.fixture(params=SERVER_BACKENDS)
def server_url(request: pytest.FixtureRequest) -> str:
    """An empty server database holding `flaky_deadlock(failures)`."""
    backend: str = request.param
    url = empty_server_database(backend)
    engine: Engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in _SETUP[backend]:
                connection.execute(text(statement))
    finally:
        engine.dispose()
    return url


def _flaky(failures: int) -> Statement:
    return Statement(select(func.flaky_deadlock(failures)))


def _run_with(url: str, work: "Work") -> object:
    settings = load_settings(database_url=url)

    async def main() -> object:
        engine = create_db_engine(settings)
        database = backend_for(settings).create_database(engine)
        try:
            return await work(database)
        finally:
            await database.aclose()
            engine.dispose()

    return asyncio.run(main())


class Work:
    """What a test asks of the database: one call, with the flaky function failing
    `failures` times first."""

    def __init__(self, failures: int, *, in_transaction: bool) -> None:
        self.failures = failures
        self.in_transaction = in_transaction

    async def __call__(self, database: Database) -> object:
        statement = _flaky(self.failures)
        if self.in_transaction:
            return (await database.transaction([Step.row(statement, {})]))[0]
        return await database.fetch_one(statement, {})


@pytest.mark.parametrize("in_transaction", [False, True], ids=["statement", "transaction"])
def test_a_deadlock_is_run_again_and_succeeds(server_url: str, in_transaction: bool) -> None:
    work = Work(TRANSACTION_ATTEMPTS - 1, in_transaction=in_transaction)
    assert _run_with(server_url, work) == (1,)


@pytest.mark.parametrize("in_transaction", [False, True], ids=["statement", "transaction"])
def test_a_deadlock_every_time_is_a_503_not_an_unhandled_error(
    server_url: str, in_transaction: bool
) -> None:
    with pytest.raises(DatabaseUnavailable):
        _run_with(server_url, Work(TRANSACTION_ATTEMPTS, in_transaction=in_transaction))
