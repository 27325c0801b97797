"""Reading the change log: a page of the feed after a position, and the purge that keeps
it to CHANGES_RETENTION.

A page and the clock are read by one statement, so they come from one snapshot: the page
holds every change at or below the clock's position that the filters let through, and a
follower that continues from the position it is given misses none and sees none twice
(app/kit/changes/models.py says why positions are in commit order).
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, delete, exists, func, select, update
from sqlalchemy.orm import aliased

from app.db import Database, Row
from app.db.statements import STATEMENTS, Statement
from app.db.tables import column, utc_now
from app.errors import Gone
from app.kit.changes.models import CLOCK_ID, ChangeClock, ChangeRecord
from app.kit.listing.cursors import Cursor, CursorCodec, CursorError, fingerprint

_POSITIONS = fingerprint("change feed positions")
_c = ChangeRecord
position, resource, row_id = column(_c.position), column(_c.resource), column(_c.row_id)
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
snapshot (a list's `Changes-Position`)."""


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


def position_token(value: int, codec: CursorCodec) -> str:
    """A position as clients see it: opaque and signed, as cursors are."""
    return codec.encode(Cursor((value,)), _POSITIONS)


def position_of(token: str, codec: CursorCodec) -> int:
    try:
        cursor = codec.decode(token, _POSITIONS)
    except CursorError:
        raise InvalidPosition(_NOT_A_POSITION) from None
    (value,) = cursor.values if len(cursor.values) == 1 else (None,)
    if type(value) is not int or value < 0:
        raise InvalidPosition(_NOT_A_POSITION)
    return value


async def current_position(database: Database) -> int:
    """The clock's position now: where a follower that starts now continues from."""
    row = await database.fetch_one(CLOCK, {})
    return 0 if row is None else int(row[0])


async def read_feed(
    database: Database, since: int | None, filters: Filters, limit: int
) -> FeedPage:
    """The changes after `since` (None: now) that the filters let through, in commit
    order, at most `limit`; PositionGone if some of them may have been purged."""
    statement = STATEMENTS.get(
        ("changes", filters.resource is not None, filters.row_id is not None),
        lambda: _page_statement(filters),
    )
    params = {
        "since": since if since is not None else 2**62,
        "limit": limit,
        "resource": filters.resource,
        "row_id": filters.row_id,
    }
    found = await database.fetch_all(statement, params)
    now, horizon = found[0][0], found[0][1]
    if since is None:
        return FeedPage([], now)
    if since < horizon or since > now:
        raise PositionGone
    changes = [change_body(row[2:]) for row in found if row[2] is not None]
    last = changes[-1]["position"] if len(changes) == limit else now
    return FeedPage(changes, last)


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
        select(clock_position, clock_horizon, *SHOWN)
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
