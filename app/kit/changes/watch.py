"""Followers waiting for the next change, served by one read of the log per worker.

However many followers wait, a worker reads the change log once every `poll_seconds`
while any of them does, and never when none does: the database's load grows with
workers, not with followers. Each read fetches the changes committed since the last one
(with the clock, in one snapshot: `read_feed`) and the worker keeps the latest `keep` of
them in memory; every follower of the worker then takes its new changes from there,
filtering them itself (`changes_after`). A follower further behind than what is kept
(one that was away, or slower than the writers) reads pages from the database until it
is within reach again. What is kept stays true while the poll sleeps (nobody waits): a
position is never reused, so the changes kept are still every change of their range, and
the next read continues from where the last one stopped.

A round of this worker's sequencer, or a message from another instance (wakeups.py),
wakes the poll at once (`poke`), so a follower need not wait for the next tick. A read
that finds changes committed but not numbered yet (made by an instance that stopped, or
by a script) asks the sequencer for a round.
"""

import asyncio
import logging
from bisect import bisect_right
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import orjson

from app.db import Database, DatabaseUnavailable
from app.kit.changes.feed import FeedPage, Filters, PositionGone, Since, read_feed
from app.kit.changes.sequencer import Sequencer

logger = logging.getLogger("app.changes")

KEEP = 2048
"""Changes each worker keeps in memory: two batches of 1,000 (about 2 MB)."""
PAGE = 500
"""Changes one read of the poll fetches at most."""
EVERYTHING = Filters()
Encode = Callable[[dict[str, Any]], bytes]


@dataclass(frozen=True, slots=True)
class Followed:
    """A change as followers take it: as the feed answers it (`body`, its position an
    int), and what a stream sends for it (`shown`), encoded once per worker however many
    followers send it."""

    position: int
    resource: str
    row_id: int
    seq: int
    body: dict[str, Any]
    shown: bytes


@dataclass(frozen=True, slots=True)
class Batch:
    changes: list[Followed]
    position: int  # where the follower continues from


class ChangeWatch:
    """One per app. It lives on the event loop that first uses it, and starts afresh on
    another one (an app started again, in tests): asyncio's events belong to one loop."""

    def __init__(
        self,
        database: Database,
        poll_seconds: float,
        encode: Encode = orjson.dumps,
        sequencer: Sequencer | None = None,
        keep: int = KEEP,
    ) -> None:
        self._database = database
        self._poll_seconds = poll_seconds
        self._encode = encode
        self._sequencer = sequencer
        self._keep = keep
        self._start(None)

    def _start(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
        # What is kept: every change after `_kept_from` up to `_latest`, the clock's position
        # as last read (-1: not read yet), in commit order.
        self._kept: list[Followed] = []
        self._positions: list[int] = []
        self._kept_from = -1
        self._latest = -1
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

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait_past(self, position: int, timeout: float) -> bool:
        """Wait until the clock is past `position`, or `timeout` seconds; whether it is.
        Returns at once when the watch is closed (the service stops)."""
        self._on_this_loop()
        self._waiting += 1
        self._start_polling()
        try:
            async with asyncio.timeout(timeout):
                while not self._past(position) and not self._closed:
                    await self._advanced.wait()
        except TimeoutError:
            pass
        finally:
            self._waiting -= 1
        return self._past(position)

    async def changes_after(self, since: Since | None, filters: Filters, limit: int) -> Batch:
        """The changes after `since` (None: now) that `filters` let through, at most
        `limit`: from memory when what is kept reaches back to it, else a page read from
        the database (PositionGone when it is older than the log keeps)."""
        self._on_this_loop()
        if since is not None and self._kept_from <= since.at <= self._latest:
            return self._kept_after(since, filters, limit)
        return await self.read(since, filters, limit)

    async def read(self, since: Since | None, filters: Filters, limit: int) -> Batch:
        """As `changes_after`, from the database whatever is kept: a follower's first
        read, which checks its position against what the log keeps (PositionGone)."""
        # Shielded: a follower that leaves mid-read must not cut a connection short.
        page = await asyncio.shield(read_feed(self._database, since, filters, limit))
        changes = [self._followed(*each) for each in zip(page.changes, page.seqs, strict=True)]
        return Batch(changes, page.position)

    async def settle(self) -> None:
        """Wait until every change committed before now is numbered (sequencer.py)."""
        if self._sequencer is not None:
            await self._sequencer.settle()

    def poke(self) -> None:
        """Read the log now: something may have changed."""
        if self._loop is asyncio.get_running_loop():
            self._poked.set()

    def forget(self) -> None:
        """Forget what is kept: the log was emptied and its clock set back, as the tests
        do between tests (in production a position is never reused)."""
        self._kept, self._positions = [], []
        self._kept_from = self._latest = -1

    def release(self) -> None:
        """Wake every follower for good: the service is stopping."""
        self._on_this_loop()
        self._closed = True
        self._advanced.set()
        self._poked.set()

    async def close(self) -> None:
        """Wake every follower and stop polling (until it is used on another loop)."""
        if self._loop is not asyncio.get_running_loop():
            return
        self.release()
        if self._poller is not None:
            self._poller.cancel()
            with suppress(asyncio.CancelledError):
                await self._poller

    def _past(self, position: int) -> bool:
        return self._latest > position

    def _kept_after(self, since: Since, filters: Filters, limit: int) -> Batch:
        taken: list[Followed] = []
        for index in range(bisect_right(self._positions, since.at), len(self._kept)):
            change = self._kept[index]
            if filters.admits(change.resource, change.row_id) and not since.hides(
                change.position, change.seq
            ):
                taken.append(change)
                if len(taken) == limit:
                    return Batch(taken, change.position)
        return Batch(taken, self._latest)

    def _followed(self, change: dict[str, Any], seq: int) -> Followed:
        at: int = change["position"]
        return Followed(at, change["resource"], change["id"], seq, change, self._encode(change))

    def _start_polling(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while self._waiting and not self._closed:
            self._poked.clear()
            before = self._latest
            try:
                await self._read_new()
            except DatabaseUnavailable:
                logger.warning("the change log could not be read")
            if self._latest != before:
                self._advanced.set()
                self._advanced = asyncio.Event()
            with suppress(TimeoutError):
                async with asyncio.timeout(self._poll_seconds):
                    await self._poked.wait()

    async def _read_new(self) -> None:
        """Keep the changes committed since the last read. Further behind than `keep`
        (the poll slept while nobody waited), start afresh from now: the followers still
        behind read the database themselves."""
        if self._latest >= 0:
            for _ in range(self._keep // PAGE + 1):
                try:
                    page = await read_feed(self._database, self._latest, EVERYTHING, PAGE)
                except PositionGone:
                    break
                self._keep_page(page)
                if len(page.changes) < PAGE:
                    if page.pending and self._sequencer is not None:
                        self._sequencer.nudge(written=False)
                    return
        now = await read_feed(self._database, None, EVERYTHING, 1)
        self._kept, self._positions = [], []
        self._kept_from = self._latest = now.position

    def _keep_page(self, page: FeedPage) -> None:
        self._kept.extend(map(self._followed, page.changes, page.seqs))
        self._positions.extend(change["position"] for change in page.changes)
        self._latest = page.position
        excess = len(self._kept) - self._keep
        if excess > self._keep // 4:  # cut the list's front now and then, not each time
            self._kept_from = self._positions[excess - 1]
            del self._kept[:excess], self._positions[:excess]
