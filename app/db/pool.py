"""A small asyncio connection pool for psycopg that fails fast.

psycopg_pool makes a request wait its whole timeout when no connection can be made, so a
database that is down would cost every request the timeout before its 503. This pool
connects on the request's own time instead: with the server down, the attempt fails at
once (connection refused) and the request gets its 503 in milliseconds, as SQLAlchemy's
pool behaves for the other backends. It also avoids the per-checkout round trip of a
classic pre-ping: an idle connection whose server has gone away has something to read
(the server's goodbye, or end of file), which a zero-timeout poll sees for free.
"""

import asyncio
import select
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus


class PoolTimeout(TimeoutError):
    """Every connection stayed busy for the whole pool timeout."""


class AsyncConnectionPool:
    def __init__(
        self,
        conninfo: str,
        *,
        connect_kwargs: Mapping[str, Any],
        max_size: int,
        timeout: float,
        check_idle: bool,
    ) -> None:
        self._conninfo = conninfo
        self._connect_kwargs = dict(connect_kwargs)
        self._max_size = max_size
        self._timeout = timeout
        self._check_idle = check_idle
        self._idle: deque[psycopg.AsyncConnection[Any]] = deque()
        self._open = 0  # connections idle, in use or being opened
        # Each waiter gets a connection, or None: "a place came free, open one yourself".
        self._waiters: deque[asyncio.Future[psycopg.AsyncConnection[Any] | None]] = deque()

    @property
    def in_use(self) -> int:
        return self._open - len(self._idle)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        connection = await self._acquire(asyncio.get_running_loop().time() + self._timeout)
        try:
            yield connection
        except BaseException:
            # Whatever failed (a network error, a timeout, a cancelled request), the
            # connection may be mid-conversation with the server: never reuse it.
            self._forget(connection)
            raise
        self._release(connection)

    async def close(self) -> None:
        idle, self._idle = self._idle, deque()
        for connection in idle:
            self._open -= 1
            await connection.close()

    async def _acquire(self, deadline: float) -> psycopg.AsyncConnection[Any]:
        while True:
            while self._idle:
                connection = self._idle.pop()  # the most recently used: warm, and alive
                if self._usable(connection):
                    return connection
                self._forget(connection)
            if self._open < self._max_size:
                return await self._connect()
            handed = await self._wait(deadline)
            if handed is not None:
                return handed

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        self._open += 1
        try:
            return await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, **self._connect_kwargs
            )
        except BaseException:
            self._open -= 1
            self._hand_over(None)
            raise

    async def _wait(self, deadline: float) -> psycopg.AsyncConnection[Any] | None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[psycopg.AsyncConnection[Any] | None] = loop.create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                return await waiter
        except BaseException as error:
            self._abandon(waiter)
            if isinstance(error, TimeoutError):
                raise PoolTimeout(f"no connection came free within {self._timeout} s") from None
            raise

    def _abandon(self, waiter: asyncio.Future[psycopg.AsyncConnection[Any] | None]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        elif waiter.done() and not waiter.cancelled():
            # Handed something in the instant the wait ended: pass it on, never drop it.
            given = waiter.result()
            if given is None:
                self._hand_over(None)
            else:
                self._release(given)

    def _release(self, connection: psycopg.AsyncConnection[Any]) -> None:
        if connection.closed or connection.info.transaction_status != TransactionStatus.IDLE:
            self._forget(connection)
            return
        if not self._hand_over(connection):
            self._idle.append(connection)

    def _forget(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self._open -= 1
        if not connection.closed:
            connection.pgconn.finish()  # closes the socket now; nothing to wait for
        self._hand_over(None)

    def _hand_over(self, connection: psycopg.AsyncConnection[Any] | None) -> bool:
        """Give a connection (or a free place) to the longest waiter, if any."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return True
        return False

    def _usable(self, connection: psycopg.AsyncConnection[Any]) -> bool:
        if connection.closed or connection.broken:
            return False
        if not self._check_idle:
            return True
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
        return not readable
