"""PostgreSQL: psycopg's async connections on the event loop, no thread hop per request.

Statements run in autocommit (each is its own transaction) and psycopg prepares them on
the server after a few uses per connection. Every call also has a client-side deadline,
so that a server that stops answering mid-query costs a 503, not a request that hangs:
DB_STATEMENT_TIMEOUT is enforced by the server, and a frozen server enforces nothing.
"""

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Dialect, Engine

from app.config import Settings
from app.db.database import TRANSACTION_ATTEMPTS, Database, PoolUsage, Step
from app.db.errors import constraint_violation, unavailable
from app.db.pool import ENDED_TO_RETRY, AsyncConnectionPool, PoolTimeout
from app.db.statements import CompiledStatement, Params, Row, Statement

# Errors that mean "the server is away or too slow", or that its tables are gone, as
# opposed to a mistake in our SQL.
_UNAVAILABLE = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedColumn,
)

T = TypeVar("T")
Connection = psycopg.AsyncConnection[Any]
_Reader = Callable[[psycopg.AsyncCursor[Any], CompiledStatement], Awaitable[T]]


class PostgresDatabase(Database):
    writes_in_with = True

    def __init__(self, engine: Engine, settings: Settings, connect_args: dict[str, Any]) -> None:
        self._dialect = engine.dialect
        url = engine.url.set(drivername="postgresql")
        # The URL's own `options` are in the connect arguments (PostgresBackend.connect_args).
        conninfo = url.difference_update_query(["options"]).render_as_string(hide_password=False)
        self.pool = AsyncConnectionPool(
            conninfo,
            connect_kwargs=connect_args,
            max_size=settings.db_pool_size + settings.db_max_overflow,
            timeout=settings.db_pool_timeout,
            check_idle=settings.db_pool_pre_ping,
        )
        # Later than the server's own statement timeout, which normally ends a slow
        # statement first, with a clean error; this deadline is for a server that froze.
        self._deadline = settings.db_statement_timeout + settings.db_connect_timeout

    async def fetch_one(self, query: Statement, params: Params) -> Row | None:
        return await self._run(query.compiled(self._dialect), params, _first_row)

    async def fetch_all(self, query: Statement, params: Params) -> list[Row]:
        return await self._run(query.compiled(self._dialect), params, _all_rows)

    async def write(self, statement: Statement, params: Params) -> int:
        return await self._run(statement.compiled(self._dialect), params, _rowcount)

    async def write_returning(self, statement: Statement, params: Params) -> Row | None:
        return await self._run(statement.compiled(self._dialect), params, _first_row)

    async def update_returning(
        self, statement: Statement, reread: Statement, params: Params
    ) -> Row | None:
        compiled = statement.returning(reread).compiled(self._dialect)
        return await self._run(compiled, params, _first_row)

    async def transaction(self, steps: Sequence[Step]) -> list[Any]:
        return await self._on_connection(partial(_run_steps, self._dialect, steps))

    async def snapshot(self, steps: Sequence[Step]) -> list[Any]:
        return await self._on_connection(partial(_run_steps, self._dialect, steps, snapshot=True))

    def pool_usage(self) -> PoolUsage:
        return PoolUsage(in_use=self.pool.in_use, waiting=self.pool.waiting)

    async def aclose(self) -> None:
        await self.pool.close()

    async def _run(self, compiled: CompiledStatement, params: Params, result: _Reader[T]) -> T:
        async def statement(connection: Connection) -> T:
            return await result(
                await connection.execute(compiled.sql, compiled.bind(params)), compiled
            )

        return await self._on_connection(statement)

    async def _on_connection(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run `work`, again (up to TRANSACTION_ATTEMPTS times in all) when the server ends
        it to break a deadlock or a serialization conflict. A single statement is a
        transaction of its own in autocommit, and is ended so as well: a team's UPDATE
        waiting for a row a transaction that waits for the team holds."""
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                return await self._once(work)
            except ENDED_TO_RETRY as error:
                if attempt == TRANSACTION_ATTEMPTS:
                    raise unavailable(error) from error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        try:
            async with self.pool.connection() as connection:
                deadline = asyncio.get_running_loop().call_later(
                    self._deadline, _sever, connection
                )
                try:
                    return await work(connection)
                finally:
                    deadline.cancel()
        except ENDED_TO_RETRY:
            raise  # an OperationalError, but one worth running again (_on_connection)
        except _UNAVAILABLE as error:
            raise unavailable(error) from error
        except psycopg.errors.IntegrityError as error:
            violation = constraint_violation(error)
            if violation is None:
                raise
            raise violation from error


def _sever(connection: psycopg.AsyncConnection[Any]) -> None:
    """End a conversation the server stopped answering: shutting the socket down wakes
    the waiting read with end-of-file at once. (Cancelling the task instead would make
    psycopg ask the frozen server to cancel the query, and wait seconds for its answer.)"""
    with socket.socket(fileno=os.dup(connection.fileno())) as sock:
        sock.shutdown(socket.SHUT_RDWR)


async def _first_row(cursor: psycopg.AsyncCursor[Any], compiled: CompiledStatement) -> Row | None:
    raw = await cursor.fetchone()
    return None if raw is None else compiled.row(raw)


async def _all_rows(cursor: psycopg.AsyncCursor[Any], compiled: CompiledStatement) -> list[Row]:
    return [compiled.row(raw) for raw in await cursor.fetchall()]


async def _rowcount(cursor: psycopg.AsyncCursor[Any], _compiled: CompiledStatement) -> int:
    return cursor.rowcount


async def _run_steps(
    dialect: Dialect, steps: Sequence[Step], connection: Connection, *, snapshot: bool = False
) -> list[Any]:
    if len(steps) == 1 and not snapshot:  # a statement is a transaction of its own
        return await _run_step_list(dialect, steps, connection)
    async with connection.transaction():
        if snapshot:
            # Each statement of READ COMMITTED sees its own snapshot; this sees one.
            await connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return await _run_step_list(dialect, steps, connection)


async def _run_step_list(
    dialect: Dialect, steps: Sequence[Step], connection: Connection
) -> list[Any]:
    results: list[Any] = []
    for index, step in enumerate(steps):
        params = step.params_after(results)
        if params is None:
            results.append(None)
            continue
        result = await _step_result(dialect, step, params, connection)
        step.check(index, result, results)
        results.append(result)
    return results


async def _step_result(dialect: Dialect, step: Step, params: Any, connection: Connection) -> Any:
    if not step.refusable:
        return await _plain_step_result(dialect, step, params, connection)
    try:
        async with connection.transaction():  # a savepoint: rolled back to on an error
            return await _plain_step_result(dialect, step, params, connection)
    except psycopg.errors.IntegrityError as error:
        violation = constraint_violation(error)
        if violation is None:
            raise
        return violation


async def _plain_step_result(
    dialect: Dialect, step: Step, params: Any, connection: Connection
) -> Any:
    statement = step.statement if step.reread is None else step.statement.returning(step.reread)
    compiled = statement.compiled(dialect)
    if step.returns == "many" and len(params) > 1:
        cursor = connection.cursor()
        await cursor.executemany(compiled.sql, [compiled.bind(each) for each in params])
        return cursor.rowcount
    if step.returns == "many":  # one: executemany's pipeline would cost more than it saves
        return (await connection.execute(compiled.sql, compiled.bind(params[0]))).rowcount
    cursor = await connection.execute(compiled.sql, compiled.bind(params))
    if step.returns == "count":
        return cursor.rowcount
    rows = await _all_rows(cursor, compiled)
    return rows if step.returns == "rows" else (rows[0] if rows else None)
