"""Recording changes: the step that ends every write's transaction.

A write hands `recording` a function that says, from its transaction's results, which
rows it changed and how (`Entry`); the step then inserts one change row each, unnumbered.
It runs in the write's own transaction, so a change is recorded if and only if the write
commits; the sequencer numbers it once it has (app/kit/changes/models.py says how).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

import orjson
from sqlalchemy import bindparam, insert, select

from app.db import Columns, Params
from app.db.database import Step
from app.db.statements import Statement
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
        "set_changed": orjson.dumps(list(entry.changed)).decode(),
        "set_kept": None if entry.kept is None else _kept_json(entry.kept),
        "set_changed_at": now,
        "set_actor": origin.actor,
        "set_request_id": origin.request_id,
        "set_idempotency_key": origin.idempotency_key,
    }


def _kept_json(kept: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(kept)).decode()
