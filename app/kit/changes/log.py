"""Recording changes: the step that ends every write's transaction.

A write hands `recording` a function that says, from its transaction's results, which
rows it changed and how (`Entry`); the step then inserts one change row each, unnumbered.
It runs in the write's own transaction, so a change is recorded if and only if the write
commits; the sequencer numbers it once it has (app/kit/changes/models.py says how).

Where the database can (PostgreSQL), a transaction whose every recorded step wrote one row
records each of those changes in the step's own statement instead (`RowChange`), in the
same order: a round trip less for each write (bench/PROFILE.md), the same rows recorded.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

import orjson
from sqlalchemy import Text, bindparam, cast, func, insert, literal, null, select
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from app.db import Columns, Params, Row
from app.db.database import Step
from app.db.statements import Executable, Statement
from app.db.tables import column, utc_now
from app.kit.changes.models import ChangeRecord

Op = Literal["create", "update", "delete", "restore"]
Results = Sequence[Any]

_RECORDED = (
    "resource",
    "row_id",
    "version",
    "op",
    "data",
    "changed",
    "kept",
    "changed_at",
    "actor",
    "request_id",
    "idempotency_key",
)
INSERT = Statement(
    insert(ChangeRecord).values({name: bindparam(f"set_{name}") for name in _RECORDED})
)
_PER_WRITE = ("changed", "changed_at", "actor", "request_id", "idempotency_key")
"""What a change records of its write rather than of its row."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Who made a write, and in which request: recorded with each of its changes."""

    actor: int | None = None  # the signed-in user
    request_id: str | None = None
    idempotency_key: str | None = None


NO_ORIGIN = Origin()
"""A write made by no request (a script, a test)."""


@dataclass(frozen=True, eq=False)  # one per resource: hashed by identity
class ChangeLog:
    """How one resource's rows are recorded: its name in the log, the fields of its public
    state (what the feed and history show), and the fields a deletion keeps besides, never
    shown, so that a restore can bring the row back whole."""

    resource: str
    table: type[Any]
    public: tuple[str, ...]
    kept: tuple[str, ...] = ()

    @cached_property
    def public_columns(self) -> Columns:
        return tuple(column(getattr(self.table, name)) for name in self.public)

    @cached_property
    def kept_columns(self) -> Columns:
        return tuple(column(getattr(self.table, name)) for name in self.kept)

    @cached_property
    def reread(self) -> Statement:
        """A row's public fields and its version, by `row_id`."""
        table_id = column(self.table.id)
        version = column(self.table.version)
        return Statement(
            select(*self.public_columns, version).where(table_id == bindparam("row_id"))
        )

    def data(self, values: Sequence[Any]) -> dict[str, Any]:
        """The public state of a row whose public fields are `values`, in order."""
        return dict(zip(self.public, values, strict=False))


@dataclass(frozen=True, slots=True)
class Entry:
    """One change a write made: to which row, at which version, and what it left."""

    log: ChangeLog
    row_id: int
    version: int
    op: Op
    data: Mapping[str, Any]
    changed: Sequence[str] = ()
    kept: Mapping[str, Any] | None = None


Entries = Callable[[Results], Sequence[Entry]]
"""The changes a transaction made, from its steps' results."""


def recording(entries_of: Entries, origin: Origin) -> Step:
    """The step that records what `entries_of` finds in the results of the steps before
    it; skipped when it finds none."""

    def records(results: Results) -> list[Params] | None:
        now = utc_now()
        return [_params(entry, now, origin) for entry in entries_of(results)] or None

    return Step.many(INSERT, records)


def _params(entry: Entry, now: datetime, origin: Origin) -> Params:
    return {
        "set_resource": entry.log.resource,
        "set_row_id": entry.row_id,
        "set_version": entry.version,
        "set_op": entry.op,
        "set_data": orjson.dumps(entry.data).decode(),
        "set_kept": None if entry.kept is None else _kept_json(entry.kept),
        **_write_params(entry.changed, now, origin),
    }


def _write_params(changed: Sequence[str], now: datetime, origin: Origin) -> Params:
    """The params of the `_PER_WRITE` columns."""
    return {
        "set_changed": orjson.dumps(list(changed)).decode(),
        "set_changed_at": now,
        "set_actor": origin.actor,
        "set_request_id": origin.request_id,
        "set_idempotency_key": origin.idempotency_key,
    }


def _kept_json(kept: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(kept)).decode()


@dataclass(frozen=True, slots=True)
class RowChange:
    """How a write records the change of the one row it wrote, from that row as the write
    returns it: `stored` columns, its id first and its version last, then (for a `delete`)
    the fields the deletion keeps. `places`: where the public fields are among them."""

    log: ChangeLog
    op: Op
    changed: tuple[str, ...]
    places: tuple[int, ...]
    stored: int

    def __call__(self, row: Row) -> list[Entry]:
        deletion = self.op == "delete"
        version = row[self.stored - 1] + int(deletion)  # a deletion is a version of its own
        kept = dict(zip(self.log.kept, row[self.stored :], strict=True)) if deletion else None
        data = self.log.data([row[place] for place in self.places])
        return [Entry(self.log, row[0], version, self.op, data, self.changed, kept)]

    def params(self, origin: Origin) -> Params:
        """What `with_write` needs besides its write's own params."""
        return _write_params(self.changed, utc_now(), origin)

    def with_write(self, write: Executable) -> Executable:
        """`write` (returning the row as `__call__` reads it) and the INSERT of its change,
        as one statement that returns what `write` returns: PostgreSQL's data-modifying
        WITH. The change is made of the row in SQL as `__call__` makes it in Python."""
        assert isinstance(write, UpdateBase)  # noqa: S101  # a write, with RETURNING
        written = write.cte("written")
        returned = list(written.c)
        public, data = _json_object(returned, self.places, self.log.public, "public_state")
        sources: list[Any] = [written, public]
        version: ColumnElement[Any] = returned[self.stored - 1]
        kept: ColumnElement[Any] = null()
        if self.op == "delete":
            version += 1
            places = range(self.stored, len(returned))
            kept_state, kept = _json_object(returned, places, self.log.kept, "kept_state")
            sources.append(kept_state)
        per_write = (bindparam(f"set_{name}", type_=_TYPES[name]) for name in _PER_WRITE)
        change = select(
            literal(self.log.resource), returned[0], version, literal(self.op), data, kept
        )
        change = change.add_columns(*per_write).select_from(*sources)
        names = ["resource", "row_id", "version", "op", "data", "kept", *_PER_WRITE]
        recording = insert(ChangeRecord).from_select(names, change).cte("recorded")
        return select(*returned).add_cte(recording)


def _json_object(
    returned: Sequence[Any], places: Iterable[int], names: Sequence[str], alias: str
) -> tuple[Subquery, ColumnElement[str]]:
    """The columns at `places`, named `names`, as a JSON object's text: compact and in
    their order, as orjson writes it (`row_to_json`; a time's microseconds lose their
    trailing zeros, the same instant); and the FROM item it is made of."""
    labelled = (returned[place].label(name) for place, name in zip(places, names, strict=True))
    state = select(*labelled).subquery(alias)
    return state, cast(func.row_to_json(state.table_valued()), Text)


_TYPES = {name: column(getattr(ChangeRecord, name)).type for name in _PER_WRITE}
