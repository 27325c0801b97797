"""Counting the statements a request costs: a `Database` that wraps the app's own (each of
its calls is one statement: app/db/database.py), and, where the backend runs them through
SQLAlchemy's engine (MariaDB), the engine's own event as well."""

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from app.db import Database, PoolUsage, Row
from app.db.database import Step
from app.db.statements import Params, Statement
from app.kit.changes.sequencer import Sequencer


class CountingDatabase(Database):
    """The app's database, counting the statements each call runs."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.statements = 0
        self.writes_in_with = inner.writes_in_with

    async def fetch_one(self, query: Statement, params: Params) -> Row | None:
        self.statements += 1
        return await self.inner.fetch_one(query, params)

    async def fetch_all(self, query: Statement, params: Params) -> list[Row]:
        self.statements += 1
        return await self.inner.fetch_all(query, params)

    async def write(self, statement: Statement, params: Params) -> int:
        self.statements += 1
        return await self.inner.write(statement, params)

    async def write_returning(self, statement: Statement, params: Params) -> Row | None:
        self.statements += 1
        return await self.inner.write_returning(statement, params)

    async def update_returning(
        self, statement: Statement, reread: Statement, params: Params
    ) -> Row | None:
        self.statements += 1
        return await self.inner.update_returning(statement, reread, params)

    async def transaction(self, steps: Sequence[Step]) -> list[Any]:
        results = await self.inner.transaction(steps)
        self.statements += len(steps)
        return results

    def pool_usage(self) -> PoolUsage:
        return self.inner.pool_usage()

    async def aclose(self) -> None:
        await self.inner.aclose()


class Counted:
    """The statements the app ran since `reset`: by the wrapper, and by the engine when
    the app's statements go through it."""

    def __init__(self, database: CountingDatabase, engine: Engine) -> None:
        self.database = database
        self.engine_statements = 0
        self.through_engine = engine.dialect.name in {"mysql", "mariadb"}
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.engine_statements += 1

    def reset(self) -> None:
        self.database.statements = 0
        self.engine_statements = 0

    def get(self, client: TestClient, url: str, **headers: str) -> Any:
        """GET `url`, checking its status; the statements it cost (on MariaDB, the
        engine ran as many: a read is one statement however it is run)."""
        statements = self.send(client, "GET", url, headers=headers)
        if self.through_engine:
            assert self.engine_statements == statements
        return statements

    def send(self, client: TestClient, method: str, url: str, **kwargs: Any) -> int:
        """The request, checking it succeeded; the `Database` calls it cost (each step of
        a transaction counts, a skipped one too)."""
        settle_changes(client)
        self.reset()
        response = client.request(method, url, **kwargs)
        assert response.status_code == 200, response.text
        return self.database.statements


def settle_changes(client: TestClient) -> None:
    """Let the round of numbering that an earlier test's writes asked for run now: it runs
    in the background on the engine, and must not be counted as the next request's."""
    sequencer: Sequencer = client.app.state.change_sequencer  # type: ignore[attr-defined]
    assert client.portal is not None  # the client is running
    client.portal.call(sequencer.settle)


@pytest.fixture
def counted(client: TestClient, clean_db: Engine) -> Iterator[Counted]:
    app: Any = client.app
    inner = app.state.database
    counting = CountingDatabase(inner)
    counter = Counted(counting, clean_db)
    app.state.database = counting
    try:
        yield counter
    finally:
        app.state.database = inner
        event.remove(clean_db, "before_cursor_execute", counter._seen)
