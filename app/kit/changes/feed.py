"""Reading the change log: a page of the feed after a position, and the purge that keeps
it to CHANGES_RETENTION.

A page and the clock are read by one statement, so they come from one snapshot: the page
holds every change at or below the clock's position that the filters let through, and a
follower that continues from the position it is given misses none and sees none twice
(app/kit/changes/models.py says why no change is ever numbered below it later). Changes
committed but not numbered yet are not in it; the page says whether there are some.

A list's position (`list_position`) is the clock's in the list's snapshot, with the seqs
of the resource's changes that snapshot holds but that were not numbered yet: they will be
numbered above the clock, and a follower starting there skips them (`Since`), since the
list showed them already.
"""

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Label, and_, bindparam, delete, exists, func, select, update
from sqlalchemy.orm import aliased

from app.db import Database, DatabaseUnavailable, Row
from app.db.statements import STATEMENTS, Statement
from app.db.tables import column, utc_now
from app.errors import Gone
from app.kit.changes.models import CLOCK_ID, ChangeClock, ChangeRecord
from app.kit.changes.sequencer import PENDING, seq_list
from app.kit.listing.cursors import Cursor, CursorCodec, CursorError, fingerprint

_POSITIONS = fingerprint("change feed positions")
_c = ChangeRecord
position, resource, row_id = column(_c.position), column(_c.resource), column(_c.row_id)
seq = column(_c.seq)
changed_at = column(_c.changed_at)
clock_position, clock_horizon = column(ChangeClock.position), column(ChangeClock.horizon)
_is_clock = column(ChangeClock.id) == CLOCK_ID
SHOWN = (
    position,
    resource,
    row_id,
    column(_c.version),
    column(_c.op),
    column(_c.data),
    changed_at,
    column(_c.actor),
)
"""What a change shows a client (never `kept`, the request id or the idempotency key)."""
CLOCK = Statement(select(clock_position, clock_horizon).where(_is_clock))
POSITION_NOW = select(clock_position).where(_is_clock).scalar_subquery().label("changes_position")
"""The clock's position as a column of another statement: read in that statement's
snapshot."""
LIST_PENDING_MAX = 10_000
"""Unnumbered changes a list's position names at most (ten batches of 1,000)."""
SKIP_RANGES_MAX = 64
"""Runs of consecutive seqs a position names at most: it must fit a URL (a batch's seqs
are one run, or a few where another write's interleave)."""


@cache
def list_position(resource_name: str) -> tuple[Label[Any], Label[Any]]:
    """A list's position, as two columns of its statement (read in its snapshot): the
    clock's position, and the seqs of the resource's changes not numbered yet, as text
    (`1,5,6`; NULL: none), at most LIST_PENDING_MAX + 1 of them."""
    unnumbered = (
        select(seq)
        .where(resource == resource_name, position.is_(None))
        .limit(LIST_PENDING_MAX + 1)
        .subquery()
    )
    seqs = select(seq_list(unnumbered.c.seq)).scalar_subquery().label("changes_pending")
    return POSITION_NOW, seqs


@cache
def list_position_statement(resource_name: str) -> Statement:
    """A list's position alone (for an empty page, read in the page's snapshot)."""
    return Statement(select(*list_position(resource_name)))


@dataclass(frozen=True, slots=True)
class Since:
    """Where a follower continues from: after position `at`, but for the changes of `skip`
    (seqs), which a list showed before they were numbered. All of them are numbered at or
    below `until` (None until the follower's first read tells: `resolved`), so they are
    forgotten once the follower passes it."""

    at: int
    skip: frozenset[int] = frozenset()
    until: int | None = None

    def resolved(self, clock: int) -> "Since":
        """With `until`: the clock's position after a round that began after the list was
        read (every change of `skip` was committed by then)."""
        return (
            self if self.until is not None or not self.skip else Since(self.at, self.skip, clock)
        )

    def hides(self, at: int, seq_: int) -> bool:
        """Whether the change at `at` with seq `seq_` is one the list showed already."""
        return seq_ in self.skip and self.until is not None and at <= self.until

    def moved(self, at: int) -> "Since":
        """This follower, having read up to `at`."""
        if self.until is not None and at < self.until:
            return Since(at, self.skip, self.until)
        return Since(at)


class ChangesBehind(DatabaseUnavailable):
    """A list's snapshot holds more changes not numbered yet than a position can name:
    the sequencer is far behind (503, worth a retry)."""


def list_since(clock: int, pending: str | None) -> Since:
    """A list's position from `list_position`'s two columns."""
    skip = frozenset(int(each) for each in pending.split(",")) if pending else frozenset()
    if len(skip) > LIST_PENDING_MAX or len(_runs(skip)) > SKIP_RANGES_MAX:
        raise ChangesBehind("too many changes wait for a number")
    return Since(clock, skip)


def _runs(seqs: frozenset[int]) -> list[tuple[int, int]]:
    """`seqs` as runs of consecutive values: (first, how many), in order."""
    runs: list[tuple[int, int]] = []
    for value in sorted(seqs):
        if runs and runs[-1][0] + runs[-1][1] == value:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((value, 1))
    return runs


class PositionGone(Gone):
    """The follower's position is older than what the log keeps (or from another
    database): changes after it may be gone."""

    detail = (
        "Changes after this position are no longer kept (CHANGES_RETENTION): list the "
        "resource again and follow the feed from its Changes-Position header"
    )


_NOT_A_POSITION = (
    "not a position of this service: use a feed's `position` or a list's Changes-Position as it is"
)


class InvalidPosition(ValueError):
    """A position this service did not make."""


@dataclass(frozen=True, slots=True)
class Filters:
    resource: str | None = None
    row_id: int | None = None

    def admits(self, resource: str, row_id: int) -> bool:
        """Whether a change of this row passes, as the page's statement decides."""
        return (self.resource is None or resource == self.resource) and (
            self.row_id is None or row_id == self.row_id
        )


@dataclass(frozen=True, slots=True)
class FeedPage:
    changes: list[dict[str, Any]]
    position: int  # where the follower continues from
    pending: bool = False  # some committed change waits for a number
    seqs: tuple[int, ...] = ()  # each change's seq, in order


def position_token(since: Since | int, codec: CursorCodec) -> str:
    """A position as clients see it: opaque and signed, as cursors are."""
    if isinstance(since, int):
        since = Since(since)
    values: tuple[int, ...] = (since.at,)
    if since.skip:
        values += (-1 if since.until is None else since.until,)
        values += tuple(value for run in _runs(since.skip) for value in run)
    return codec.encode(Cursor(values), _POSITIONS)


def position_of(token: str, codec: CursorCodec) -> Since:
    try:
        cursor = codec.decode(token, _POSITIONS)
    except CursorError:
        raise InvalidPosition(_NOT_A_POSITION) from None
    values = cursor.values
    runs = values[2:]
    if (
        len(values) not in range(1, 2 + 2 * SKIP_RANGES_MAX + 1)
        or len(runs) % 2
        or len(values) == 2  # a skip is an `until` and a run at least
        or any(type(value) is not int or value < -1 for value in values)
        or values[0] < 0
        or any(value < 1 for value in runs)
        or sum(runs[1::2]) > LIST_PENDING_MAX
    ):
        raise InvalidPosition(_NOT_A_POSITION)
    if len(values) == 1:
        return Since(values[0])
    until = None if values[1] == -1 else values[1]
    skip = frozenset(
        seq
        for first, count in zip(runs[::2], runs[1::2], strict=True)
        for seq in range(first, first + count)
    )
    return Since(values[0], skip, until)


async def current_position(database: Database) -> int:
    """The clock's position now: where a follower that starts now continues from."""
    row = await database.fetch_one(CLOCK, {})
    return 0 if row is None else int(row[0])


async def read_feed(
    database: Database, since: Since | int | None, filters: Filters, limit: int
) -> FeedPage:
    """The changes after `since` (None: now) that the filters let through, in commit
    order, at most `limit` read (fewer answered where `since` skips some); PositionGone if
    some of them may have been purged."""
    if isinstance(since, int):
        since = Since(since)
    statement = STATEMENTS.get(
        ("changes", filters.resource is not None, filters.row_id is not None),
        lambda: _page_statement(filters),
    )
    params = {
        "since": since.at if since is not None else 2**62,
        "limit": limit,
        "resource": filters.resource,
        "row_id": filters.row_id,
    }
    found = await database.fetch_all(statement, params)
    now, horizon, pending = found[0][0], found[0][1], bool(found[0][2])
    if since is None:
        return FeedPage([], now, pending)
    if since.at < horizon or since.at > now:
        raise PositionGone
    read = [row for row in found if row[3] is not None]
    last = read[-1][3] if len(read) == limit else now
    shown = [row for row in read if not since.hides(row[3], row[-1])]
    changes = [change_body(row[3:-1]) for row in shown]
    return FeedPage(changes, last, pending, tuple(row[-1] for row in shown))


def change_body(row: Row) -> dict[str, Any]:
    """A change as the feed shows it, from the columns SHOWN reads; its position is an
    int here, made a token as it is answered."""
    at, kind, row_id_, version, op, data, when, actor = row
    return {
        "position": at,
        "resource": kind,
        "id": row_id_,
        "version": version,
        "op": op,
        "data": orjson.loads(data),
        "changed_at": when,
        "actor": actor,
    }


def _page_statement(filters: Filters) -> Any:
    """The clock, left-joined to the changes after `since`: one row with no change when
    there is none, so the position comes from the same snapshot as the page."""
    after = position > bindparam("since")
    if filters.resource is not None:
        after = and_(after, resource == bindparam("resource"))
    if filters.row_id is not None:
        after = and_(after, row_id == bindparam("row_id"))
    return (
        select(clock_position, clock_horizon, PENDING.label("pending"), *SHOWN, seq)
        .select_from(ChangeClock)
        .outerjoin(ChangeRecord, after)
        .where(_is_clock)
        .order_by(position)
        .limit(bindparam("limit"))
    )


# --- retention ---------------------------------------------------------------------------

_newer = aliased(ChangeRecord)
_HORIZON = Statement(
    update(ChangeClock)
    .where(_is_clock)
    .values(
        horizon=func.coalesce(
            select(func.max(position)).where(changed_at < bindparam("cutoff")).scalar_subquery(),
            clock_horizon,
        )
    )
)
_PURGE = Statement(
    delete(ChangeRecord).where(
        position <= bindparam("horizon"),
        # A row's last change stays: a deleted row's history and restore start from it,
        # and its version is never reused.
        exists().where(
            column(_newer.resource) == resource,
            column(_newer.row_id) == row_id,
            column(_newer.position) > position,
        ),
    )
)


async def purge(database: Database, retention: timedelta) -> int:
    """Move the horizon to the last change older than `retention`, and delete every change
    at or below it but each row's last; how many were deleted."""
    await database.write(_HORIZON, {"cutoff": utc_now() - retention})
    row = await database.fetch_one(CLOCK, {})
    horizon = 0 if row is None else int(row[1])
    return await database.write(_PURGE, {"horizon": horizon})
