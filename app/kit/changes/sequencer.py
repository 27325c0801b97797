"""Numbering committed changes: the rounds that give each change its position.

A round is one short transaction, the same on every database: it takes the clock's row
lock, gives every change committed and still unnumbered a position above the clock's (in
the order of their seqs, by one UPDATE: one snapshot, so a write's changes are numbered
all in the same round or all in a later one), and moves the clock to the last position
given. Rounds take turns on the lock and number only what has committed, so a position is
never given below one a reader may have seen (app/kit/changes/models.py). On PostgreSQL
the three steps are one statement, in autocommit (`_round_in_one_statement`): a round
trip, not five with BEGIN and COMMIT; one that finds nothing to number locks and writes
nothing. The writers themselves never touch the clock: on PostgreSQL, 32 writers
queueing on its lock until each commit was flushed wrote at half the rate of writers
without it (bench/PROFILE.md).

Each worker runs rounds of its own (`Sequencer`): soon after one of its writes commits,
at most one round each `PACE` seconds under load, and at once for a reader that must see
every change committed before it asked (`settle`). The workers of every instance number
each other's changes as well, whichever comes first.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from sqlalchemy import Update, exists, func, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Text

from app.db import Database, DatabaseUnavailable
from app.db.database import Step
from app.db.statements import Statement
from app.db.tables import column
from app.kit.changes.models import CLOCK_ID, ChangeClock, ChangeRecord

logger = logging.getLogger("app.changes")

PACE = 0.02
"""Seconds between the rounds of one worker under load: each round is a transaction that
commits (bench/PROFILE.md weighs this against the latency a follower sees)."""

_seq, _position = column(ChangeRecord.seq), column(ChangeRecord.position)
_clock = column(ChangeClock.position)
_is_clock = column(ChangeClock.id) == CLOCK_ID
_unnumbered = _position.is_(None)

_LOCK = Statement(update(ChangeClock).where(_is_clock).values(position=_clock))
"""Takes the clock's row lock (changing nothing), held until the round commits."""


def _numbering(clock: ColumnElement[int]) -> Update:
    """Numbers every committed change that has no position yet, above `clock` (the clock's
    position, read once its lock is held), in seq order (with gaps where a seq was drawn by
    a write that rolled back or is still open)."""
    first = select(func.min(_seq)).where(_unnumbered).scalar_subquery()
    return update(ChangeRecord).where(_unnumbered).values(position=_seq - first + clock + 1)


_NUMBER = Statement(_numbering(select(_clock).where(_is_clock).scalar_subquery()))
_ADVANCE = Statement(
    update(ChangeClock)
    .where(_is_clock)
    .values(position=select(func.max(_position)).scalar_subquery())
)


def _round_in_one_statement() -> Statement:
    """The round as one statement, where the database runs data-modifying `WITH`s. The
    clock's row is locked (FOR UPDATE, which reads its newest version) as the first change
    is numbered, before that change's row is, so rounds take turns as the three statements
    do; a change that another round numbered meanwhile is passed over (PostgreSQL checks
    `position IS NULL` again on the newest version of a row it waited for). A round that
    finds nothing to number locks nothing and writes nothing. Answers how many it numbered,
    moving the clock only if some."""
    locked = select(_clock).where(_is_clock).with_for_update().cte("locked_clock")
    numbered = (
        _numbering(select(locked.c.position).scalar_subquery())
        .returning(_position)
        .cte("numbered")
    )
    return Statement(
        update(ChangeClock)
        .where(_is_clock, select(numbered.c.position).exists())
        .values(position=select(func.max(numbered.c.position)).scalar_subquery())
        .returning(select(func.count()).select_from(numbered).scalar_subquery())
    )


_ROUND = _round_in_one_statement()
PENDING = exists().where(_unnumbered)
"""Whether some committed change waits for a number (a column of another statement)."""
_ANY_PENDING = Statement(select(PENDING.label("pending")))


class seq_list(FunctionElement[str]):  # noqa: N801  # named as SQL functions are
    """The seqs of a column, joined by commas, as text: an aggregate each database spells
    its own way."""

    type = Text()
    name = "seq_list"
    inherit_cache = True


@compiles(seq_list)
def _group_concat(element: seq_list, compiler: SQLCompiler, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)})"


@compiles(seq_list, "postgresql")
def _string_agg(element: seq_list, compiler: SQLCompiler, **kw: Any) -> str:
    return f"string_agg(CAST({compiler.process(element.clauses, **kw)} AS TEXT), ',')"


async def number_changes(database: Database, *, check: bool = True) -> int:
    """One round: number every committed change that has no position yet; how many.
    With `check`, a read first looks for one (a round that would number none costs a
    transaction), except on PostgreSQL, where such a round costs no more than the read."""
    if database.writes_in_with:
        row = await database.write_returning(_ROUND, {})
        return 0 if row is None else int(row[0])
    if check and not await pending(database):
        return 0
    _, numbered, _ = await database.transaction(
        [
            Step.count(_LOCK, {}),
            Step.count(_NUMBER, {}),
            Step.count(_ADVANCE, lambda results: {} if results[1] else None),
        ]
    )
    return int(numbered)


async def pending(database: Database) -> bool:
    """Whether some committed change waits for a number."""
    row = await database.fetch_one(_ANY_PENDING, {})
    return bool(row and row[0])


class Sequencer:
    """One per app, running rounds on the event loop that first asks for one (and afresh
    on another one: an app started again, in tests). `numbered` is called after each round
    that numbered something: followers wake up."""

    def __init__(
        self, database: Database, numbered: Callable[[], None], pace: float = PACE
    ) -> None:
        self._database = database
        self._numbered = numbered
        self._pace = pace
        self._start(None)

    def _start(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
        self._wanted = asyncio.Event()
        self._urgent = asyncio.Event()
        self._rounds_started = self._rounds_ended = 0
        self._written = False  # a write since the last round began: no need to look
        self._ended = asyncio.Event()  # set, and replaced, as each round ends
        self._failed: DatabaseUnavailable | None = None  # the last round's failure
        self._last_round = 0.0
        self._runner: asyncio.Task[None] | None = None

    def nudge(self, *, written: bool = True) -> None:
        """A write committed (`written`: its changes wait), or some change may wait:
        number them soon."""
        self._on_this_loop()
        self._written = self._written or written
        self._wanted.set()

    async def settle(self) -> None:
        """Wait until every change committed before this call is numbered: a round that
        starts after now has ended. DatabaseUnavailable if that round failed."""
        self._on_this_loop()
        goal = self._rounds_started + 1
        self._urgent.set()
        self._wanted.set()
        while self._rounds_ended < goal:
            ended = self._ended
            await ended.wait()
        if self._failed is not None:
            raise self._failed

    async def close(self) -> None:
        """Stop numbering; a reader still waiting for a round is told the database is
        unavailable (the service is stopping)."""
        if self._loop is not asyncio.get_running_loop() or self._runner is None:
            return
        self._runner.cancel()
        with suppress(asyncio.CancelledError):
            await self._runner
        self._failed = DatabaseUnavailable("the service is stopping")
        self._rounds_ended = self._rounds_started + 1
        self._ended.set()

    def _on_this_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._start(loop)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            await self._keep_pace()
            self._wanted.clear()
            self._urgent.clear()
            written, self._written = self._written, False
            self._rounds_started += 1
            self._last_round = time.monotonic()
            self._failed = None
            try:
                if await number_changes(self._database, check=not written):
                    self._numbered()
            except DatabaseUnavailable as error:
                logger.warning("the change log could not be numbered")
                self._failed = error
            except Exception:  # the loop must outlive any failure: readers wait on it
                logger.exception("the change log could not be numbered")
                self._failed = DatabaseUnavailable("the change log could not be numbered")
            self._rounds_ended += 1
            self._ended.set()
            self._ended = asyncio.Event()

    async def _keep_pace(self) -> None:
        """Wait until `pace` seconds after the last round began, unless a reader waits."""
        rest = self._last_round + self._pace - time.monotonic()
        if rest > 0 and not self._urgent.is_set():
            with suppress(TimeoutError):
                async with asyncio.timeout(rest):
                    await self._urgent.wait()
