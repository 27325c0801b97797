"""SQLite: reads on the event loop, writes on one writer thread per process.

A point read takes microseconds on SQLite, far less than a thread-pool hop, so reads run
right on the event loop over one connection that never holds a transaction open (WAL lets
it read beside a writer). Writes can wait for the database lock (another process writing,
up to SQLITE_BUSY_TIMEOUT), so they run on a thread of their own: one per process, since
SQLite lets one writer at a time write anyway.
"""

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from sqlalchemy import Engine

from app.config import Settings
from app.db.backends import configure_sqlite_connection
from app.db.database import Database, PoolUsage
from app.db.errors import unavailable
from app.db.statements import CompiledStatement, Params, Row, Statement

T = TypeVar("T")


class SqliteDatabase(Database):
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._dialect = engine.dialect
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        # Autocommit (isolation_level=None): each statement is its own transaction, so the
        # reader never keeps a snapshot open and a write commits when it returns.
        kwargs = dict(kwargs) | {
            "timeout": settings.sqlite_busy_timeout,
            "isolation_level": None,
            "check_same_thread": False,
        }
        self._connect: Callable[[], sqlite3.Connection] = partial(sqlite3.connect, *args, **kwargs)
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None  # used on the writer thread only
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._writes = 0  # submitted to the writer thread and not finished

    async def fetch_one(self, query: Statement, params: Params) -> Row | None:
        rows = self._read(query.compiled(self._dialect), params)
        return rows[0] if rows else None

    async def fetch_all(self, query: Statement, params: Params) -> list[Row]:
        return self._read(query.compiled(self._dialect), params)

    async def write(self, statement: Statement, params: Params) -> int:
        return await self._on_writer(_rowcount, statement.compiled(self._dialect), params)

    async def write_returning(self, statement: Statement, params: Params) -> Row | None:
        return await self._on_writer(_first_row, statement.compiled(self._dialect), params)

    async def update_returning(
        self, statement: Statement, reread: Statement, params: Params
    ) -> Row | None:
        compiled = statement.returning(reread).compiled(self._dialect)
        return await self._on_writer(_first_row, compiled, params)

    def pool_usage(self) -> PoolUsage:
        return PoolUsage(in_use=min(self._writes, 1), waiting=max(self._writes - 1, 0))

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await asyncio.get_running_loop().run_in_executor(self._writer_thread, self._close_writer)

    def _read(self, compiled: CompiledStatement, params: Params) -> list[Row]:
        try:
            if self._reader is None:
                self._reader = self._open()
            cursor = self._reader.execute(compiled.sql, compiled.bind(params))
            # fetchall, not fetchone: a cursor left unfinished would keep its read open.
            return [compiled.row(raw) for raw in cursor.fetchall()]
        except sqlite3.OperationalError as error:
            raise unavailable(error) from error

    async def _on_writer(
        self,
        run: Callable[[sqlite3.Connection, CompiledStatement, Params], T],
        compiled: CompiledStatement,
        params: Params,
    ) -> T:
        loop = asyncio.get_running_loop()
        self._writes += 1
        try:
            return await loop.run_in_executor(
                self._writer_thread, self._write, run, compiled, params
            )
        except sqlite3.OperationalError as error:
            raise unavailable(error) from error
        finally:
            self._writes -= 1

    def _write(
        self,
        run: Callable[[sqlite3.Connection, CompiledStatement, Params], T],
        compiled: CompiledStatement,
        params: Params,
    ) -> T:
        if self._writer is None:
            self._writer = self._open()
        return run(self._writer, compiled, params)

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _open(self) -> sqlite3.Connection:
        connection = self._connect()
        try:
            configure_sqlite_connection(connection, None)
        except BaseException:
            connection.close()
            raise
        return connection


def _rowcount(connection: sqlite3.Connection, compiled: CompiledStatement, params: Params) -> int:
    return connection.execute(compiled.sql, compiled.bind(params)).rowcount


def _first_row(
    connection: sqlite3.Connection, compiled: CompiledStatement, params: Params
) -> Row | None:
    rows = connection.execute(compiled.sql, compiled.bind(params)).fetchall()
    return compiled.row(rows[0]) if rows else None
