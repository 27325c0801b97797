"""SQLite: short reads on the event loop, long reads on reader threads, writes on one writer
thread; every statement bounded in time.

A point read takes microseconds on SQLite, less than a thread hop, so a read starts right on
the event loop, over one connection that never holds a transaction open (WAL lets it read
beside a writer). But a client can ask for a read that takes seconds on a big table (a
substring search with a total, a deep offset), and the loop must keep serving meanwhile:
the loop's connection gives up on a statement that has run `LOOP_READ_SECONDS` (a progress
handler looks at the clock every `PROGRESS_STEPS` steps of SQLite's virtual machine: a
fraction of a microsecond for a short read), and that read runs again on one of
SQLITE_READER_THREADS threads, each with its own connection. bench/PROFILE.md (2026-12-02)
measured this beside running every read on a thread.

The budget is time, not a count of steps: SQLite counts a prepared statement's steps across
all its executions, and Python's sqlite3 keeps statements prepared, so a step budget sent
every often-run short read (a page of 2,400 steps, say) to a thread once in every few runs.

Writes run on a thread of their own, one per process, since SQLite lets one writer at a
time write anyway. A write waits for the write lock (another process writing) at most
SQLITE_BUSY_TIMEOUT in all, counted from its arrival: time spent queueing behind this
process's earlier writes is taken off the busy timeout it starts with, and one that has
used it all up is refused before it starts.

Whatever runs on a thread is interrupted (`Connection.interrupt()`, called from the loop)
DB_STATEMENT_TIMEOUT after it arrived; one still queued then never starts. Either way the
request gets DatabaseUnavailable, its 503, and an interrupted write is rolled back.
"""

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy import Dialect, Engine

from app.config import Settings
from app.db.backends import configure_sqlite_connection
from app.db.database import Database, PoolUsage, Step, run_steps
from app.db.errors import constraint_violation, unavailable
from app.db.statements import CompiledStatement, Params, Row, Statement

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]

LOOP_READ_SECONDS = 0.002
"""How long a read may run on the event loop before it moves to a reader thread. A read of
one row by its key takes microseconds; a page of 100 heroes, filtered and sorted, about
0.2 ms (bench/PROFILE.md, 2026-12-02)."""
PROGRESS_STEPS = 1_000
"""How often, in steps of SQLite's virtual machine, the loop's reads look at the clock."""


class SqliteDatabase(Database):
    def __init__(
        self, engine: Engine, settings: Settings, loop_read_seconds: float = LOOP_READ_SECONDS
    ) -> None:
        self._dialect = engine.dialect
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        # Autocommit (isolation_level=None): each statement is its own transaction, so a
        # reader never keeps a snapshot open and a write commits when it returns.
        kwargs = dict(kwargs) | {
            "timeout": settings.sqlite_busy_timeout,
            "isolation_level": None,
            "check_same_thread": False,
        }
        self._connect: Callable[[], sqlite3.Connection] = partial(sqlite3.connect, *args, **kwargs)
        self._statement_timeout = settings.db_statement_timeout
        self._busy_timeout = settings.sqlite_busy_timeout
        self._loop_read_seconds = loop_read_seconds  # 0: every read on a reader thread
        self._loop_read_until = 0.0  # when the read on the loop must give up
        self._loop_reader: sqlite3.Connection | None = None
        self._over_budget = False  # set by the loop reader's progress handler
        self.reads_moved_off_loop = 0  # reads the loop gave up on, run again on a thread
        self._readers = _ConnectionThreads(self._open, settings.sqlite_reader_threads, "reader")
        self._writer = _ConnectionThreads(self._open, 1, "writer")

    async def fetch_one(self, query: Statement, params: Params) -> Row | None:
        rows = await self._read(query.compiled(self._dialect), params)
        return rows[0] if rows else None

    async def fetch_all(self, query: Statement, params: Params) -> list[Row]:
        return await self._read(query.compiled(self._dialect), params)

    async def write(self, statement: Statement, params: Params) -> int:
        return await self._write(partial(_rowcount, statement.compiled(self._dialect), params))

    async def write_returning(self, statement: Statement, params: Params) -> Row | None:
        return await self._write(partial(_first_row, statement.compiled(self._dialect), params))

    async def update_returning(
        self, statement: Statement, reread: Statement, params: Params
    ) -> Row | None:
        compiled = statement.returning(reread).compiled(self._dialect)
        return await self._write(partial(_first_row, compiled, params))

    async def transaction(self, steps: Sequence[Step]) -> list[Any]:
        # One writer: no other transaction of this process runs meanwhile, and BEGIN
        # IMMEDIATE keeps other processes' writers out, so there is no deadlock to retry.
        return await self._write(partial(_run_steps, self._dialect, steps))

    def pool_usage(self) -> PoolUsage:
        writes = self._writer.pending
        return PoolUsage(in_use=min(writes, 1), waiting=max(writes - 1, 0))

    async def aclose(self) -> None:
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None
        await asyncio.to_thread(self._readers.close)
        await asyncio.to_thread(self._writer.close)

    async def _read(self, compiled: CompiledStatement, params: Params) -> list[Row]:
        arrived = time.monotonic()
        try:
            if self._loop_read_seconds:
                rows = self._read_on_loop(compiled, params)
                if rows is not None:
                    return rows
            deadline = arrived + self._statement_timeout
            return await self._readers.run(partial(_all_rows, compiled, params), deadline)
        except sqlite3.OperationalError as error:
            raise unavailable(error) from error

    def _read_on_loop(self, compiled: CompiledStatement, params: Params) -> list[Row] | None:
        """The rows, or None when the read took more than its steps and was stopped."""
        if self._loop_reader is None:
            self._loop_reader = self._open()
            self._loop_reader.set_progress_handler(self._stop_on_loop, PROGRESS_STEPS)
        self._loop_read_until = time.perf_counter() + self._loop_read_seconds
        try:
            return _all_rows(compiled, params, self._loop_reader)
        except sqlite3.OperationalError:
            if not self._over_budget:
                raise
            self._over_budget = False
            self.reads_moved_off_loop += 1
            return None

    def _stop_on_loop(self) -> int:
        """Stop the statement on the loop once it has run its time."""
        if time.perf_counter() < self._loop_read_until:
            return 0
        self._over_budget = True
        return 1

    async def _write(self, work: Work[T]) -> T:
        arrived = time.monotonic()
        busy_deadline = arrived + self._busy_timeout
        try:
            return await self._writer.run(
                partial(_within_busy_deadline, busy_deadline, work),
                arrived + self._statement_timeout,
                start_by=busy_deadline,
            )
        except sqlite3.OperationalError as error:
            raise unavailable(error) from error
        except sqlite3.IntegrityError as error:
            violation = constraint_violation(error)
            if violation is None:
                raise
            raise violation from error

    def _open(self) -> sqlite3.Connection:
        connection = self._connect()
        try:
            configure_sqlite_connection(connection, None)
        except BaseException:
            connection.close()
            raise
        return connection


class _ConnectionThreads:
    """`size` threads, each with a connection of its own, running work against deadlines.
    Started on first use; `close` stops them and closes their connections (a later use
    starts them again)."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], size: int, name: str) -> None:
        self._connect = connect
        self._size = size
        self._name = f"sqlite-{name}"
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.pending = 0  # submitted and not finished

    async def run(self, work: Work[T], deadline: float, start_by: float | None = None) -> T:
        """`work`'s result on one of the threads; interrupted at `deadline` (monotonic
        seconds), refused if it has not started by `start_by` (default: the deadline)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._size, thread_name_prefix=self._name)
        loop = asyncio.get_running_loop()
        job = _Job(work, min(deadline, start_by or deadline))
        timer = loop.call_later(max(deadline - time.monotonic(), 0), job.interrupt)
        self.pending += 1
        try:
            return await loop.run_in_executor(self._executor, job.run, self._connection)
        finally:
            self.pending -= 1
            timer.cancel()

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on its first use."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
            with self._lock:
                self._connections.append(connection)
        return connection


class _Job(Generic[T]):
    """One piece of work for a connection's thread, and its deadlines. `interrupt` (on the
    loop) stops the statement only while this job runs, never the next one's."""

    def __init__(self, work: Work[T], start_by: float) -> None:
        self._work = work
        self._start_by = start_by
        self._lock = threading.Lock()
        self._running: sqlite3.Connection | None = None
        self._expired = False

    def run(self, connection: Callable[[], sqlite3.Connection]) -> T:
        with self._lock:
            if self._expired or time.monotonic() >= self._start_by:
                raise sqlite3.OperationalError("waited past its deadline before it could start")
            self._running = opened = connection()
        try:
            return self._work(opened)
        finally:
            with self._lock:
                self._running = None

    def interrupt(self) -> None:
        with self._lock:
            self._expired = True
            if self._running is not None:
                self._running.interrupt()


def _within_busy_deadline(deadline: float, work: Work[T], connection: sqlite3.Connection) -> T:
    """`work`, waiting for another process's write lock only until `deadline`."""
    remaining = deadline - time.monotonic()
    connection.execute(f"PRAGMA busy_timeout = {max(round(remaining * 1000), 1)}")
    return work(connection)


def _run_steps(
    dialect: Dialect, steps: Sequence[Step], connection: sqlite3.Connection
) -> list[Any]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        results = run_steps(steps, partial(_step_result, dialect, connection=connection))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return results


def _step_result(
    dialect: Dialect, step: Step, params: Any, *, connection: sqlite3.Connection
) -> Any:
    if not step.refusable:
        return _plain_step_result(dialect, step, params, connection)
    connection.execute("SAVEPOINT refusable")
    try:
        result = _plain_step_result(dialect, step, params, connection)
    except sqlite3.IntegrityError as error:
        violation = constraint_violation(error)
        if violation is None:
            raise
        connection.execute("ROLLBACK TO refusable")
        result = violation
    connection.execute("RELEASE refusable")
    return result


def _plain_step_result(
    dialect: Dialect, step: Step, params: Any, connection: sqlite3.Connection
) -> Any:
    statement = step.statement if step.reread is None else step.statement.returning(step.reread)
    compiled = statement.compiled(dialect)
    if step.returns == "many":
        bound = [compiled.bind(each) for each in params]
        return connection.executemany(compiled.sql, bound).rowcount
    if step.returns == "count":
        return _rowcount(compiled, params, connection)
    rows = _all_rows(compiled, params, connection)
    return rows if step.returns == "rows" else (rows[0] if rows else None)


def _all_rows(
    compiled: CompiledStatement, params: Params, connection: sqlite3.Connection
) -> list[Row]:
    cursor = connection.execute(compiled.sql, compiled.bind(params))
    # fetchall, not fetchone: a cursor left unfinished would keep its read open.
    return [compiled.row(raw) for raw in cursor.fetchall()]


def _rowcount(compiled: CompiledStatement, params: Params, connection: sqlite3.Connection) -> int:
    return connection.execute(compiled.sql, compiled.bind(params)).rowcount


def _first_row(
    compiled: CompiledStatement, params: Params, connection: sqlite3.Connection
) -> Row | None:
    rows = connection.execute(compiled.sql, compiled.bind(params)).fetchall()
    return compiled.row(rows[0]) if rows else None
