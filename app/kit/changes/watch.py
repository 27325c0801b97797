"""Followers waiting for the next change, woken by one poll of the clock per worker.

However many followers wait, a worker reads the clock once every `poll_seconds` while any
of them does, and never when none does: the database's load grows with workers, not with
followers. A write made by this worker, or a message from another instance, wakes the poll
at once (`poke`), so a follower need not wait for the next tick.
"""

import asyncio
import logging
from contextlib import suppress

from app.db import Database, DatabaseUnavailable
from app.kit.changes.feed import current_position

logger = logging.getLogger("app.changes")


class ChangeWatch:
    """One per app. It lives on the event loop that first uses it, and starts afresh on
    another one (an app started again, in tests): asyncio's events belong to one loop."""

    def __init__(self, database: Database, poll_seconds: float) -> None:
        self._database = database
        self._poll_seconds = poll_seconds
        self._start(None)

    def _start(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
        self._latest = -1  # the clock's position as last read; -1: not read yet
        self._advanced = asyncio.Event()  # set, and replaced, each time the clock moves
        self._poked = asyncio.Event()
        self._waiting = 0
        self._poller: asyncio.Task[None] | None = None
        self._closed = False

    def _on_this_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._start(loop)

    @property
    def latest(self) -> int:
        return self._latest

    async def wait_past(self, position: int, timeout: float) -> bool:
        """Wait until the clock is past `position`, or `timeout` seconds; whether it is.
        Returns at once when the watch is closed (the service stops)."""
        self._on_this_loop()
        self._waiting += 1
        self._start_polling()
        try:
            async with asyncio.timeout(timeout):
                while self._latest <= position and not self._closed:
                    await self._advanced.wait()
        except TimeoutError:
            pass
        finally:
            self._waiting -= 1
        return self._latest > position

    def poke(self) -> None:
        """Read the clock now: something may have changed."""
        if self._loop is asyncio.get_running_loop():
            self._poked.set()

    async def close(self) -> None:
        """Wake every follower and stop polling (until it is used on another loop)."""
        if self._loop is not asyncio.get_running_loop():
            return
        self._closed = True
        self._advanced.set()
        if self._poller is not None:
            self._poller.cancel()
            with suppress(asyncio.CancelledError):
                await self._poller

    def _start_polling(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while self._waiting and not self._closed:
            self._poked.clear()
            try:
                now = await current_position(self._database)
            except DatabaseUnavailable:
                logger.warning("the change clock could not be read")
            else:
                if now != self._latest:
                    self._latest = now
                    self._advanced.set()
                    self._advanced = asyncio.Event()
            with suppress(TimeoutError):
                async with asyncio.timeout(self._poll_seconds):
                    await self._poked.wait()
