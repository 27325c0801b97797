"""A small asyncio connection pool for psycopg that fails fast.

psycopg_pool makes a request wait its whole timeout when no connection can be made, so a
database that is down would cost every request the timeout before its 503. This pool
connects on the request's own time instead: with the server down, the attempt fails at
once (connection refused) and the request gets its 503 in milliseconds, as SQLAlchemy's
pool behaves for the other backends. It also avoids the per-checkout round trip of a
classic pre-ping: an idle connection whose server has gone away has something to read
(the server's goodbye, or end of file), which a zero-timeout poll(2) sees for free.
(Not select(2): it refuses file numbers from 1,024 up, which a busy worker reaches.)

The accounting counts places, not connections. A request takes one of `max_size` places
before it touches a connection and gives it back in a `finally`, whatever failed on the
way, so no error can keep a place (see `connection`). A connection is either in the idle
list or held by the request that took it; one that an error reaches is closed, not reused.
"""

import asyncio
import select
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from app.db.database import StepMissed

Connection = psycopg.AsyncConnection[Any]

ENDED_TO_RETRY = (
    psycopg.errors.TransactionRollback,
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
)
"""The server ended the transaction to break a deadlock or a serialization conflict (class
40): worth running again. psycopg makes each its own subclass of OperationalError, not of
TransactionRollback."""

_REFUSALS = (psycopg.errors.IntegrityError, *ENDED_TO_RETRY, StepMissed)
"""Errors after which the server is ready for the next statement: a constraint or a
deadlock refused the write, or a transaction ended itself because a step missed."""


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
        self._idle: deque[Connection] = deque()
        self._taken = 0  # places held by requests: each has a connection, or is opening one
        # A place that comes free goes straight to the longest waiter: no newcomer takes it.
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def in_use(self) -> int:
        return self._taken

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        await self._take_place(asyncio.get_running_loop().time() + self._timeout)
        try:
            connection = await self._check_out()
            refused: BaseException | None = None
            try:
                try:
                    yield connection
                except _REFUSALS as error:
                    refused = error  # the server said no, cleanly: the connection is reusable
                self._check_in(connection)
            except BaseException:
                # Whatever else failed (a network error, a timeout, a cancelled request, the
                # check on its return), it may be mid-conversation with the server: never
                # reuse it.
                lost = connection.broken
                _close(connection)
                if lost:
                    # Its link to the server is gone (a restart, a cut network): the idle
                    # ones, older, most likely lost theirs too. Only this request pays.
                    self._close_idle()
                raise
            if refused is not None:
                raise refused
        finally:
            self._give_place_back()

    async def close(self) -> None:
        idle, self._idle = self._idle, deque()
        for connection in idle:
            await connection.close()

    def _close_idle(self) -> None:
        idle, self._idle = self._idle, deque()
        for connection in idle:
            _close(connection)

    async def _take_place(self, deadline: float) -> None:
        if self._taken < self._max_size:
            self._taken += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                await waiter  # resolved by `_give_place_back`: the place is this request's
        except BaseException as error:
            self._abandon(waiter)
            if isinstance(error, TimeoutError):
                raise PoolTimeout(f"no connection came free within {self._timeout} s") from None
            raise

    def _abandon(self, waiter: asyncio.Future[None]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        elif waiter.done() and not waiter.cancelled():
            self._give_place_back()  # handed the place in the instant the wait ended

    def _give_place_back(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._taken -= 1

    async def _check_out(self) -> Connection:
        while self._idle:
            connection = self._idle.pop()  # the most recently used: warm, and alive
            try:
                usable = self._usable(connection)
            except BaseException:
                _close(connection)
                raise
            if usable:
                return connection
            _close(connection)
        return await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, **self._connect_kwargs
        )

    def _check_in(self, connection: Connection) -> None:
        if connection.closed or connection.info.transaction_status != TransactionStatus.IDLE:
            _close(connection)
        else:
            self._idle.append(connection)

    def _usable(self, connection: Connection) -> bool:
        if connection.closed or connection.broken:
            return False
        return not self._check_idle or not _has_something_to_read(connection.fileno())


def _has_something_to_read(fileno: int) -> bool:
    """One poll(2) that does not wait. Hang-ups and errors are reported too."""
    poller = select.poll()
    poller.register(fileno, select.POLLIN)
    return bool(poller.poll(0))


def _close(connection: Connection) -> None:
    if not connection.closed:
        connection.pgconn.finish()  # closes the socket now; nothing to wait for
