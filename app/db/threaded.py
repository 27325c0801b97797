"""Any SQLAlchemy engine or session: each call runs in the thread pool, one hop per call.

This serves MariaDB (PyMySQL is synchronous), SQLite in memory (one connection that every
request shares), and a session that a test substitutes by overriding `get_session`, as
SQLModel's testing tutorial does. A driver error that means the database is away or too
slow, or that its tables are gone, leaves as `DatabaseUnavailable`.
"""

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Dialect, Engine
from sqlalchemy import exc as sa_exc
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.db.database import TRANSACTION_ATTEMPTS, Database, PoolUsage, Step, run_steps
from app.db.errors import constraint_violation, is_deadlock, is_missing_schema, unavailable
from app.db.statements import Params, Row, Statement

T = TypeVar("T")
# Errors that mean the database could not be reached or did not answer in time, as
# opposed to errors in what we asked of it.
_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


class _Transaction:
    """The statements of one `EngineDatabase` call, on one session."""

    def __init__(self, session: Session, options: Mapping[str, Any]) -> None:
        self._session = session
        self._options = options
        self.dialect: Dialect = session.get_bind().dialect

    def execute(self, statement: Statement, params: Params) -> CursorResult[Any]:
        result = self._session.execute(statement.sql, params, execution_options=self._options)
        return cast(CursorResult[Any], result)

    def execute_many(self, statement: Statement, params: Sequence[Params]) -> int:
        """An INSERT once per params, as Core runs it (the session's ORM bulk insert
        would answer no row count)."""
        connection = self._session.connection()
        return connection.execute(
            statement.sql, list(params), execution_options=self._options
        ).rowcount

    def refusable(self, run: Callable[[], Any]) -> Any:
        """`run`'s result, or the ConstraintViolation that refused it, undone alone (under
        a savepoint) while the transaction goes on."""
        savepoint = self._session.begin_nested()
        try:
            result = run()
        except sa_exc.IntegrityError as error:
            savepoint.rollback()
            violation = constraint_violation(error)
            if violation is None:
                raise
            return violation
        savepoint.commit()
        return result

    def first(self, statement: Statement, params: Params) -> Row | None:
        row = self.execute(statement, params).first()
        return None if row is None else tuple(row)


class EngineDatabase(Database):
    def __init__(
        self,
        sessions: Callable[[], AbstractContextManager[Session]],
        options: Mapping[str, Any] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self._sessions = sessions
        self._options = options or {}
        self._engine = engine

    @classmethod
    def of_engine(cls, engine: Engine) -> "EngineDatabase":
        return cls(partial(Session, engine), engine=engine)

    @classmethod
    def of_session(cls, session: Session) -> "EngineDatabase":
        """Statements run on this session (its owner closes it). The objects it holds
        follow what an UPDATE or DELETE changed: "fetch" asks the database which rows those
        were ("evaluate", the default, cannot see bound parameters' values)."""
        return cls(lambda: nullcontext(session), {"synchronize_session": "fetch"})

    async def fetch_one(self, query: Statement, params: Params) -> Row | None:
        return await self._in_thread(lambda tx: tx.first(query, params))

    async def fetch_all(self, query: Statement, params: Params) -> list[Row]:
        return await self._in_thread(lambda tx: [tuple(row) for row in tx.execute(query, params)])

    async def write(self, statement: Statement, params: Params) -> int:
        return await self._in_thread(lambda tx: tx.execute(statement, params).rowcount)

    async def write_returning(self, statement: Statement, params: Params) -> Row | None:
        return await self._in_thread(lambda tx: tx.first(statement, params))

    async def update_returning(
        self, statement: Statement, reread: Statement, params: Params
    ) -> Row | None:
        return await self._in_thread(lambda tx: _update_returning(tx, statement, reread, params))

    async def transaction(self, steps: Sequence[Step]) -> list[Any]:
        return await self._in_thread(lambda tx: run_steps(steps, partial(_step_result, tx)))

    def pool_usage(self) -> PoolUsage:
        pool: Any = self._engine.pool if self._engine is not None else None
        checked_out = getattr(pool, "checkedout", None)
        # QueuePool blocks waiting threads on a Condition of its queue; CPython keeps them
        # in `_waiters` (private: read for metrics only). StaticPool never makes one wait.
        queue = getattr(pool, "_pool", None)
        waiters = getattr(getattr(queue, "not_empty", None), "_waiters", ())
        return PoolUsage(in_use=checked_out() if checked_out else 0, waiting=len(waiters))

    async def aclose(self) -> None:
        """Nothing of its own to close: the engine's owner disposes of it."""

    async def _in_thread(self, work: Callable[[_Transaction], T]) -> T:
        """`work` as one transaction on a thread, run again when the database ends it to
        break a deadlock (up to TRANSACTION_ATTEMPTS times in all). A single statement can
        be chosen too: two INSERTs of one unique key deadlock on MariaDB."""
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                return await self._attempt(work)
            except _Deadlock as deadlock:
                if attempt == TRANSACTION_ATTEMPTS:
                    raise unavailable(deadlock.error) from deadlock.error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, work: Callable[[_Transaction], T]) -> T:
        try:
            return await run_in_threadpool(self._transaction, work)
        except sa_exc.IntegrityError as error:
            violation = constraint_violation(error)
            if violation is None:
                raise
            raise violation from error
        except _UNAVAILABLE as error:
            if is_deadlock(error):
                raise _Deadlock(error) from error
            raise unavailable(error) from error
        except sa_exc.ProgrammingError as error:  # MariaDB's "table doesn't exist" is one
            if is_missing_schema(error):
                raise unavailable(error) from error
            raise

    def _transaction(self, work: Callable[[_Transaction], T]) -> T:
        """Run `work` as one transaction, ended on this thread, reads included: a request
        that kept one open would hold a pooled connection while it waits for the loop."""
        with self._sessions() as session:
            try:
                result = work(_Transaction(session, self._options))
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return result


class _Deadlock(Exception):
    """The database ended the transaction to break a deadlock: worth running again."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _step_result(tx: _Transaction, step: Step, params: Any) -> Any:
    if step.refusable:
        return tx.refusable(partial(_plain_step_result, tx, step, params))
    return _plain_step_result(tx, step, params)


def _plain_step_result(tx: _Transaction, step: Step, params: Any) -> Any:
    if step.reread is not None:
        return _update_returning(tx, step.statement, step.reread, params)
    if step.returns == "many":
        return tx.execute_many(step.statement, params)
    if step.returns == "count":
        return tx.execute(step.statement, params).rowcount
    if step.returns == "row":
        return tx.first(step.statement, params)
    return [tuple(row) for row in tx.execute(step.statement, params)]


def _update_returning(
    tx: _Transaction, statement: Statement, reread: Statement, params: Params
) -> Row | None:
    if tx.dialect.update_returning:
        return tx.first(statement.returning(reread), params)
    # MariaDB has no UPDATE ... RETURNING: read the row back in the same transaction,
    # under the row lock the UPDATE took, so the answer is this change and no later one.
    if tx.execute(statement, params).rowcount == 0:
        return None
    return tx.first(reread, params)
