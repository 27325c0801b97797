"""One row of a resource: read it, create it, and change or delete it only if it is still
at a version the client expects.

Every function runs single statements keyed by id, so racing requests resolve in the
database: of two DELETEs one removes the row and the other matches nothing (NotFound), and
a change that races a DELETE either updates the row or finds it gone. A conditional change
(`Preconditions`, from If-Match, If-None-Match and If-Unmodified-Since) compares and sets in
the same statement: of racing writers that expect one version, exactly one wins and the
others get PreconditionFailed. Every change bumps the version and moves `updated_at`; an
empty change changes nothing.

Every write to a resource with a change log (`Resource.changes`) records its changes in its
own transaction (app/kit/changes/log.py): its own row's, and those of the rows its `Also`
steps change that say so (`records`).

A write may carry `Also` steps, run in its transaction: a change to the rows that refer to
this one, or that it refers to (a team's heroes released before it is deleted, a team
touched when one of its heroes changes). They see the row as it was before the write (when
the write locks it first) and as the write left it.

The names of the values an INSERT or UPDATE sets start with `set_`: SQLAlchemy reserves a
column's own name for itself.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, bindparam, delete, insert, null, select, update

from app.db import Database, Params, Row
from app.db.database import TRANSACTION_ATTEMPTS, Step, StepMissed
from app.db.errors import ConstraintViolation, DatabaseUnavailable
from app.db.statements import STATEMENTS, Statement
from app.db.tables import column, utc_now
from app.errors import NotFound, NotOwner, PreconditionFailed
from app.kit.changes import history
from app.kit.changes.errors import (
    NotRestorable,
    RestoreConflict,
    VersionNotRecorded,
    VersionRequired,
)
from app.kit.changes.log import (
    NO_ORIGIN,
    ChangeLog,
    Entry,
    Op,
    Origin,
    Results,
    RowChange,
    recording,
)
from app.kit.resource import Resource


@dataclass(frozen=True, slots=True)
class Preconditions:
    """What a conditional write requires of its row (RFC 9110, 13.1), all of it at once."""

    versions: frozenset[int] | None = None
    """If-Match: the row is at one of these versions (empty: none will do); None: any."""
    excluded: frozenset[int] = frozenset()
    """If-None-Match: the row is at none of these versions."""
    no_row: bool = False
    """If-None-Match: `*` (or unreadable): no row that exists will do."""
    changed_before: datetime | None = None
    """If-Unmodified-Since: the row's `updated_at` is earlier than this."""
    owner: int | None = None
    """WRITE_POLICY=owner: the row's owner is this user (a row with none will not do).
    Checked in the write's own statement, as the others: a write that races a change of
    owner cannot slip through."""

    def never_hold(self) -> bool:
        """Whether no row can meet them: no write is tried."""
        return self.no_row or (self.versions is not None and not self.versions)

    def hold_for(self, version: int, updated_at: datetime) -> bool:
        """Whether a row at this version, last changed then, meets them."""
        return (
            not self.never_hold()
            and (self.versions is None or version in self.versions)
            and version not in self.excluded
            and (self.changed_before is None or updated_at < self.changed_before)
        )

    def shape(self) -> "Shape":
        """What the statement that checks them looks like: its cache key."""
        versions = version_slots(len(self.versions)) if self.versions else 0
        excluded = version_slots(len(self.excluded))
        return versions, excluded, self.changed_before is not None, self.owner is not None

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = _slot_params("expected_version", self.versions or frozenset())
        params |= _slot_params("excluded_version", self.excluded)
        if self.changed_before is not None:
            params["changed_before"] = self.changed_before
        if self.owner is not None:
            params["required_owner"] = self.owner
        return params


Shape = tuple[int, int, bool, bool]
Expected = Preconditions | None
"""What a write requires of its row, or None: an unconditional write."""


@dataclass(frozen=True, slots=True)
class Change:
    """What `update_row` sets, what it requires of the row, and what else it runs."""

    values: Mapping[str, Any]
    expected: "Expected" = None
    also: Sequence["Also"] = ()


@dataclass(frozen=True, slots=True)
class Also:
    """A statement run in a write's transaction. Its params come from the row as it was
    before the write (None unless the write locked it first: `delete_row` with steps
    `first`) and as the write left it (None for steps `first`); params of None skip it.

    A step with `refers_by` changes the rows this row refers to by that column (a hero's
    team): it runs before the write, with the row as the transaction first read it
    (without a lock), and the write requires the column to hold still what was read (else
    all of it runs again, on the row as it is then). So such a write locks the referred
    rows before its own row, in the order a deletion of a referred row takes its locks
    (that row, then the rows that refer to it): no deadlock between the two."""

    statement: Statement
    params: Callable[[Row | None, Row | None], Params | None]
    first: bool = False  # before the write (after the lock), not after it
    required: bool = False
    """A step that must match a row, or nothing of the write is kept: the write raises
    `AlsoMissed` (idempotency's stored answer, kept only by the claim's holder)."""
    refers_by: Any = None  # the column by which this row refers to those the step changes
    returns: Literal["count", "rows"] = "count"
    reread: Statement | None = None
    """For an UPDATE of one row: the row it changed, as this reads it (`Step.updated`)."""
    records: Callable[[Any], Sequence[Entry]] | None = None
    """The changes to record, from what the step returned (a row it changed, say)."""

    def ahead(self, read_at: int | None) -> Step:
        """This step (one with `refers_by`) as it runs ahead of the write, seeing the row
        the step `read_at` read (None: there is none yet, the write inserts it)."""

        def params(results: Sequence[Any]) -> Params | None:
            return self.params(None if read_at is None else results[read_at], None)

        return self._step(params)

    def step(self, locked: bool, write_at: int) -> Step:
        def params(results: Sequence[Any]) -> Params | None:
            before = results[0] if locked else None
            after = results[write_at] if len(results) > write_at else None
            return self.params(before, after)

        return self._step(params)

    def _step(self, params: Callable[[Sequence[Any]], Params | None]) -> Step:
        if self.reread is not None:
            return Step.updated(self.statement, self.reread, params, required=self.required)
        return Step(self.statement, params, self.returns, required=self.required)


class AlsoMissed(Exception):
    """A required `Also` step matched no row: the write was rolled back."""


async def get_row(database: Database, resource: Resource, row_id: int) -> Row:
    """The row's stored columns, or the resource's NotFound."""
    row = await database.fetch_one(_statements(resource).by_id, {"row_id": row_id})
    if row is None:
        raise resource.not_found()
    return row


async def create_row(
    database: Database,
    resource: Resource,
    values: Mapping[str, Any],
    also: Sequence[Also] = (),
    *,
    origin: Origin = NO_ORIGIN,
) -> Row:
    """Insert a row at version 1 with `values`; its stored columns as inserted."""
    now = utc_now()
    statement = STATEMENTS.get(
        (resource.name, "insert", tuple(values)), lambda: _insert(resource, tuple(values))
    )
    params = {f"set_{name}": value for name, value in values.items()}
    params |= {"set_created_at": now, "set_updated_at": now}
    records = _records(resource, "create", resource.changes.public if resource.changes else ())
    row: Row | None
    if also or records is not None:
        # Ahead of an INSERT, a step sees no row: one it would skip is left out at once.
        ahead = [
            _planned(each, each.ahead(None))
            for each in also
            if each.refers_by is not None and each.params(None, None) is not None
        ]
        behind = [
            _planned(each, each.step(False, len(ahead))) for each in also if each.refers_by is None
        ]
        write = (Step.row(statement, params), records)
        try:
            results = await _run(database, [*ahead, write, *behind], origin)
        except StepMissed:
            raise AlsoMissed() from None
        row = results[len(ahead)]
    else:
        row = await database.write_returning(statement, params)
    assert row is not None  # noqa: S101  # an INSERT ... RETURNING returns its row
    return row


async def update_row(
    database: Database,
    resource: Resource,
    row_id: int,
    change: Change,
    *,
    origin: Origin = NO_ORIGIN,
) -> Row:
    """Set the change's values on the row; an empty change changes nothing, `updated_at`
    and the version included (its precondition is still checked), and runs no `also`
    step, and records no change."""
    expected = change.expected
    await _refuse_never_met(database, resource, row_id, expected)
    if not change.values:
        await _refuse_not_owned(database, resource, row_id, expected)
        return _unchanged(resource, await get_row(database, resource, row_id), expected)
    step = _update_step(resource, row_id, change.values, expected, change.also)
    records = _records(resource, "update", _public_among(resource, change.values))
    if change.also or records is not None:
        write = (step, records)
        return await _write_existing(
            database, resource, row_id, write, change.also, expected=expected, origin=origin
        )
    assert isinstance(step.params, Mapping)  # noqa: S101  # `_update_step`'s own
    row = await database.update_returning(step.statement, _statements(resource).by_id, step.params)
    if row is None:
        raise await _missing_or_changed(database, resource, row_id, expected)
    return row


def _update_step(
    resource: Resource,
    row_id: int,
    values: Mapping[str, Any],
    expected: Expected,
    also: Sequence[Also],
) -> Step:
    """The UPDATE that sets `values` on the row if it meets `expected` (and, with `also`
    steps that change the rows it refers to, if it still refers to those: `_referring`),
    returning the row as it leaves it."""
    shape = expected.shape() if expected else None
    fields = frozenset(values)
    guard = _reference_of(also)
    statement = STATEMENTS.get(
        (resource.name, "update", fields, shape, _named(guard)),
        lambda: _update(resource, fields, shape, guard),
    )
    params: dict[str, Any] = {"row_id": row_id, "set_updated_at": utc_now()}
    params |= {f"set_{field}": value for field, value in values.items()}
    params |= expected.params() if expected else {}
    return Step.updated(statement, _statements(resource).by_id, params, required=True)


def _public_among(resource: Resource, values: Mapping[str, Any]) -> tuple[str, ...]:
    """The public fields among those `values` sets, in the change log's order."""
    public = resource.changes.public if resource.changes else ()
    return tuple(name for name in public if name in values)


async def _write_existing(  # noqa: PLR0913  # `expected` says why a write was refused
    database: Database,
    resource: Resource,
    row_id: int,
    write: "Planned",
    also: Sequence[Also],
    *,
    expected: Expected,
    origin: Origin,
) -> Row:
    """`write` of a row that exists, with its `also` steps, in one transaction: the row it
    returned; NotFound or PreconditionFailed if it matched none."""
    if _reference_of(also) is not None:
        return await _referring(
            database, resource, row_id, write, also, expected=expected, origin=origin
        )
    row = await _transaction(database, resource, row_id, write, also, origin=origin)
    if row is None:
        raise await _missing_or_changed(database, resource, row_id, expected)
    return row


async def delete_row(  # noqa: PLR0913  # `origin` only says who, for the change log
    database: Database,
    resource: Resource,
    row_id: int,
    expected: Expected = None,
    also: Sequence[Also] = (),
    *,
    origin: Origin = NO_ORIGIN,
) -> Row | None:
    """Delete the row; with `also` steps or a change log, the row as it was, else None.
    Its change takes the version after the row's last one: a row's versions are never
    reused, a restored row's included."""
    await _refuse_never_met(database, resource, row_id, expected)
    shape = expected.shape() if expected else None
    guard = _reference_of(also)
    statement = STATEMENTS.get(
        (resource.name, "delete", shape, _named(guard)), lambda: _delete(resource, shape, guard)
    )
    params = {"row_id": row_id} | (expected.params() if expected else {})
    records = _records(resource, "delete", ())
    if not also and records is None:
        if await database.write(statement, params) == 0:
            raise await _not_deleted(database, resource, row_id, expected)
        return None
    write = (
        Step.row(statement.returning(_statements(resource).deleted), params, required=True),
        records,
    )
    if guard is not None:
        row: Row | None = await _referring(
            database, resource, row_id, write, also, expected=expected, origin=origin
        )
    else:
        row = await _transaction(database, resource, row_id, write, also, origin=origin)
    if row is None:
        raise await _not_deleted(database, resource, row_id, expected)
    return row[: len(resource.stored)]


Records = Callable[[Any], Sequence[Entry]]
Planned = tuple[Step, Records | None]
"""A step of a write's transaction, and how the changes it made are found in its result."""


def _planned(also: Also, step: Step) -> Planned:
    return step, also.records


def _records(resource: Resource, op: Op, changed: Sequence[str]) -> RowChange | None:
    """How the write's own row is recorded, from the row it returned (None: the resource
    keeps no change log). A deletion's change takes the version after the row's last,
    and keeps its fields that are never public."""
    log = resource.changes
    if log is None:
        return None
    return RowChange(log, op, tuple(changed), resource.change_places, len(resource.stored))


def recorded_update(log: ChangeLog, places: Sequence[int], values: Mapping[str, Any]) -> Records:
    """How the rows an UPDATE is about to change (as a locking read returned them, each a
    row of stored columns with its version last) are recorded once it has set `values`
    on them and bumped their versions."""

    def records(found: Sequence[Row]) -> list[Entry]:
        entries = []
        for row in found:
            data = log.data([row[place] for place in places]) | dict(values)
            entries.append(Entry(log, row[0], row[-1] + 1, "update", data, tuple(values)))
        return entries

    return records


async def _run(database: Database, planned: Sequence[Planned], origin: Origin) -> list[Any]:
    """The planned steps as one transaction, ended by recording the changes they made.
    Where the database can, and each step changes one row, each step records its row's
    change itself instead, in the same order (bench/PROFILE.md: a round trip less)."""
    if database.writes_in_with and all(
        isinstance(records, RowChange) for _, records in planned if records is not None
    ):
        planned = [_recording_itself(step, records, origin) for step, records in planned]
    steps = [step for step, _ in planned]
    found = [(place, records) for place, (_, records) in enumerate(planned) if records]
    if not found:
        return await database.transaction(steps)

    def entries_of(results: Results) -> list[Entry]:
        return [
            entry
            for place, records in found
            if results[place] is not None
            for entry in records(results[place])
        ]

    return await database.transaction([*steps, recording(entries_of, origin)])


def _recording_itself(step: Step, records: Records | None, origin: Origin) -> Planned:
    """`step`, a write of one row that `records` records, as the one statement that also
    records its change."""
    if records is None:
        return step, records
    assert isinstance(records, RowChange)  # noqa: S101  # `_run` saw to it
    write = step.statement if step.reread is None else step.statement.returning(step.reread)

    def params(results: Results) -> Params | None:
        own = step.params_after(results)
        return None if own is None else {**own, **records.params(origin)}

    return replace(
        step, statement=write.derived(records, records.with_write), reread=None, params=params
    ), None


def touch_statement(table: type[Any]) -> Statement:
    """An UPDATE that moves the version and `updated_at` of one row of `table`
    (`touch_params`): a row whose answer shows other rows that changed (a team, when one
    of its heroes changes)."""
    version = column(table.version)
    return Statement(
        update(table)
        .where(column(table.id) == bindparam("row_id"))
        .values(version=version + 1, updated_at=bindparam("touched_at"))
    )


def touch(
    log: ChangeLog,
    params: Callable[[Row | None, Row | None], Params | None],
    *,
    refers_by: Any,
    changed: Sequence[str],
) -> Also:
    """A step that touches a row this one refers to (`touch_statement`, `touch_params`),
    recorded in the change log as an update of the `changed` fields its answer shows."""

    public = len(log.public)  # the row as `log.reread` reads it: its public fields, its version
    records = RowChange(log, "update", tuple(changed), tuple(range(public)), public + 1)
    return Also(
        _touch_statement_of(log), params, refers_by=refers_by, reread=log.reread, records=records
    )


@cache
def _touch_statement_of(log: ChangeLog) -> Statement:
    return touch_statement(log.table)


def touch_params(place: int, *row_ids: int | None) -> Params | None:
    """The params of `touch_statement` for the `place`th of these ids in ascending order
    (None ones and repeats left out), or None if there is no such id: the step is skipped.

    Rows are touched one statement each, in id order, so that transactions touching the
    same rows lock them in the same order: one statement for both would lock them in the
    order it finds them, which on PostgreSQL is where they lie in the table (a small table
    is scanned, not searched by its index), and changes as they are updated."""
    ids = sorted({row_id for row_id in row_ids if row_id is not None})
    if place >= len(ids):
        return None
    return {"row_id": ids[place], "touched_at": utc_now()}


def release_statement(table: type[Any], reference: Any) -> Statement:
    """An UPDATE that sets `reference` to null on every row of `table` that refers to the
    row `released_from`, moving each one's version and `updated_at`: their answers change
    (`?fields=team_id`, say)."""
    referring = column(reference)
    return Statement(
        update(table)
        .where(referring == bindparam("released_from"))
        .values(
            {
                referring: None,
                "version": column(table.version) + 1,
                "updated_at": bindparam("released_at"),
            }
        )
    )


def version_of(row: Row) -> int:
    """A stored row's version (its last column)."""
    version: int = row[-1]
    return version


def updated_at_of(resource: Resource, row: Row) -> datetime:
    """A stored row's `updated_at`."""
    updated_at: datetime = row[resource.updated_at_place]
    return updated_at


def version_slots(versions: int) -> int:
    """How many version parameters a conditional statement takes for `versions` expected
    ones: the next power of two, so that a handful of statements serves any If-Match."""
    return 1 << (versions - 1).bit_length() if versions else 0


def _slot_params(name: str, versions: frozenset[int]) -> dict[str, int]:
    """`versions` as the parameters of their slots (the last one repeated to fill them)."""
    if not versions:
        return {}
    ordered = sorted(versions)
    slots = version_slots(len(ordered))
    return {f"{name}_{slot}": ordered[min(slot, len(ordered) - 1)] for slot in range(slots)}


async def _refuse_never_met(
    database: Database, resource: Resource, row_id: int, expected: Expected
) -> None:
    """An If-Match that names no version of this row, or `If-None-Match: *`, can never be
    met by a row that exists: no write is tried."""
    if expected is not None and expected.never_hold():
        raise await _missing_or_changed(database, resource, row_id, expected)


async def _transaction(  # noqa: PLR0913  # `origin` only says who, for the change log
    database: Database,
    resource: Resource,
    row_id: int,
    write: Planned,
    also: Sequence[Also],
    *,
    origin: Origin,
) -> Row | None:
    """`write` with its `also` steps in one transaction, the row locked first if a step
    runs before the write; the row `write` returned, or None if it matched no row (nothing
    was kept)."""
    first = [each for each in also if each.first]
    lock = bool(first)
    write_at = int(lock) + len(first)
    locking: Planned = (
        Step.row(_statements(resource).locked, {"row_id": row_id}, required=True),
        None,
    )
    planned = [locking][: int(lock)] + [
        _planned(each, each.step(lock, write_at)) for each in first
    ]
    planned += [
        write,
        *(_planned(each, each.step(lock, write_at)) for each in also if not each.first),
    ]
    try:
        results = await _run(database, planned, origin)
    except StepMissed as missed:
        if lock and missed.step == 0:
            raise resource.not_found() from None
        if missed.step != write_at:
            raise AlsoMissed() from None
        return None
    row: Row = results[write_at]
    return row


async def _referring(  # noqa: PLR0913  # `expected` only says why a write was refused
    database: Database,
    resource: Resource,
    row_id: int,
    write: Planned,
    also: Sequence[Also],
    *,
    expected: Expected = None,
    origin: Origin = NO_ORIGIN,
) -> Row:
    """One transaction: read the row (no lock), run the steps that change the rows it
    refers to (see `Also`), then `write` (its params a mapping) with the reference as
    read, which it must still hold; again, on the row as it is then, if the reference
    changed in between. The row `write` returned; NotFound or PreconditionFailed if it
    matched no row for those reasons."""
    reference = _reference_of(also)
    place = resource.stored.index(reference)
    read: Planned = (
        Step.row(_statements(resource).by_id, {"row_id": row_id}, required=True),
        None,
    )
    ahead = [_planned(each, each.ahead(0)) for each in also if each.refers_by is not None]
    write_at = 1 + len(ahead)
    behind = [_planned(each, each.step(True, write_at)) for each in also if each.refers_by is None]
    step, records = write
    params = step.params
    assert isinstance(params, Mapping)  # noqa: S101  # the write's own, the reference added here
    guarded = replace(step, params=lambda results: {**params, "seen_reference": results[0][place]})
    for _attempt in range(TRANSACTION_ATTEMPTS):
        try:
            planned = [read, *ahead, (guarded, records), *behind]
            row: Row = (await _run(database, planned, origin))[write_at]
        except StepMissed as missed:
            if missed.step == 0:
                raise resource.not_found() from None
            if missed.step != write_at:
                raise AlsoMissed() from None
            seen = missed.results[0][place]
            now = await database.fetch_one(_statements(resource).by_id, {"row_id": row_id})
            if now is None:
                raise resource.not_found() from None
            if now[place] == seen:  # refused by the preconditions: which one says why
                raise await _missing_or_changed(database, resource, row_id, expected) from None
            continue  # it moved meanwhile: the steps ahead changed the wrong rows
        return row
    # The reference changed under every attempt: as busy as a deadlock, and as worth a retry.
    raise DatabaseUnavailable


def _reference_of(also: Sequence[Also]) -> Any:
    """The column by which the row refers to the rows `also` changes ahead, or None."""
    references = {
        id(each.refers_by): each.refers_by for each in also if each.refers_by is not None
    }
    assert len(references) <= 1  # noqa: S101  # one reference column per write
    return next(iter(references.values()), None)


def _named(reference: Any) -> str | None:
    """A reference column as part of a statement's cache key (columns compare into SQL)."""
    return None if reference is None else str(reference)


async def _not_deleted(
    database: Database, resource: Resource, row_id: int, expected: Expected
) -> Exception:
    if expected is None:
        return resource.not_found()
    return await _missing_or_changed(database, resource, row_id, expected)


def _unchanged(resource: Resource, row: Row, expected: Expected) -> Row:
    if expected is not None and not expected.hold_for(
        version_of(row), updated_at_of(resource, row)
    ):
        raise PreconditionFailed(row[0], version_of(row))
    return row


async def _missing_or_changed(
    database: Database, resource: Resource, row_id: int, expected: Expected = None
) -> Exception:
    """Why a conditional write matched no row: the row is gone (NotFound, which comes
    first: preconditions only decide between success and 412), it is not the user's
    (NotOwner: a write they may not make at all), or it has another version."""
    row = await database.fetch_one(_statements(resource).owner_and_version, {"row_id": row_id})
    if row is None:
        return resource.not_found()
    if expected is not None and expected.owner is not None and row[0] != expected.owner:
        return NotOwner()
    return PreconditionFailed(row_id, row[1])


async def _refuse_not_owned(
    database: Database, resource: Resource, row_id: int, expected: Expected
) -> None:
    """An empty change writes nothing: its owner is checked by a read."""
    if expected is not None and expected.owner is not None:
        refusal = await _missing_or_changed(database, resource, row_id, expected)
        if not isinstance(refusal, PreconditionFailed):
            raise refusal


# --- statements --------------------------------------------------------------------------


class _Fixed:
    def __init__(self, resource: Resource) -> None:
        by_id = select(*resource.stored).where(_is_row(resource))
        self.by_id = Statement(by_id)
        # FOR UPDATE where the database has row locks; SQLite's one writer needs none.
        self.locked = Statement(by_id.with_for_update())
        kept = resource.changes.kept_columns if resource.changes else ()
        self.deleted = Statement(select(*resource.stored, *kept).where(_is_row(resource)))
        owner = resource.owner if resource.owner is not None else null()
        self.owner_and_version = Statement(
            select(owner, resource.version).where(_is_row(resource))
        )


@cache
def _statements(resource: Resource) -> _Fixed:
    return _Fixed(resource)


def _is_row(resource: Resource) -> ColumnElement[bool]:
    return resource.id == bindparam("row_id")


def _meets(resource: Resource, shape: Shape) -> ColumnElement[bool]:
    """The preconditions of this shape as the WHERE clause of the write they guard."""
    versions, excluded, changed_before, owned = shape
    conditions = [_is_row(resource)]
    if versions:
        conditions.append(resource.version.in_(_slots("expected_version", versions)))
    if excluded:
        conditions.append(resource.version.not_in(_slots("excluded_version", excluded)))
    if changed_before:
        conditions.append(resource.updated_at < bindparam("changed_before"))
    if owned and resource.owner is not None:
        conditions.append(resource.owner == bindparam("required_owner"))
    return and_(*conditions)


def _slots(name: str, count: int) -> list[Any]:
    return [bindparam(f"{name}_{slot}") for slot in range(count)]


def _insert(resource: Resource, fields: tuple[str, ...]) -> Any:
    values: dict[str, Any] = {field: bindparam(f"set_{field}") for field in fields}
    values |= {
        "created_at": bindparam("set_created_at"),
        "updated_at": bindparam("set_updated_at"),
        "version": 1,
    }
    return insert(resource.table).values(values).returning(*resource.stored)


def _guarded(where: ColumnElement[bool], guard: Any) -> ColumnElement[bool]:
    """`where`, and (with a `guard` column) that column still holding `seen_reference`."""
    if guard is None:
        return where
    return and_(where, guard.is_not_distinct_from(bindparam("seen_reference", type_=guard.type)))


def _update(
    resource: Resource,
    fields: frozenset[str],
    shape: Shape | None,
    guard: Any = None,
) -> Any:
    """The UPDATE that sets exactly `fields`, moves `updated_at` and bumps the version;
    with a `shape`, only if the row meets those preconditions (compare and set in one
    statement)."""
    values: dict[str, Any] = {field: bindparam(f"set_{field}") for field in sorted(fields)}
    values["updated_at"] = bindparam("set_updated_at")
    values["version"] = resource.version + 1
    where = _meets(resource, shape) if shape else _is_row(resource)
    return update(resource.table).where(_guarded(where, guard)).values(values)


def _delete(resource: Resource, shape: Shape | None, guard: Any = None) -> Any:
    where = _meets(resource, shape) if shape else _is_row(resource)
    return delete(resource.table).where(_guarded(where, guard))


def owned_by(expected: Expected, owner: int | None) -> Expected:
    """`expected`, and also: the row is `owner`'s (None: whoever's it is)."""
    if owner is None:
        return expected
    return replace(expected or Preconditions(), owner=owner)


# --- restore -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Restoring:
    """A restore as planned from the change log: the public values the row takes again
    (its id aside) and what it requires of the row. For a deleted row, `kept` holds what
    its deletion kept besides (never public) and `version` the version it comes back at:
    the one after its deletion's, which the change log's unique key lets only one
    restore take. None for a row that exists: it is updated, and its version bumped."""

    row_id: int
    values: Mapping[str, Any]
    expected: Expected = None
    kept: Mapping[str, Any] | None = None
    version: int | None = None


async def plan_restore(
    database: Database, resource: Resource, row_id: int, version: int | None, expected: Expected
) -> Restoring:
    """What restoring the row to `version` (None: to its last state before its deletion)
    writes. Refused: NotFound (no row and no history), VersionRequired (a row that
    exists, no version), VersionNotRecorded, NotRestorable (a deletion that was not
    recorded), and for a deleted row NotOwner and PreconditionFailed, judged on its
    deletion (its owner as kept, its version and time)."""
    log = _logged(resource)
    deletion = await _row_or_deletion(database, resource, row_id)
    if not isinstance(deletion, history.Recorded):  # the row exists: `deletion` is it
        if version is None:  # a client that named another state learns that first
            await _refuse_not_owned(database, resource, row_id, expected)
            _unchanged(resource, deletion, expected)
            raise VersionRequired()
        return Restoring(row_id, await _state_at(database, log, row_id, version), expected)
    if version is None or version == deletion.version:
        values = _restorable(log, deletion.data)
    else:
        values = await _state_at(database, log, row_id, version)
    _refuse_on_deletion(row_id, deletion, expected)
    return Restoring(row_id, values, expected, deletion.kept, deletion.version + 1)


async def _row_or_deletion(
    database: Database, resource: Resource, row_id: int
) -> Row | history.Recorded:
    """The row if it exists, else its deletion (the last change recorded of it).
    NotFound if it neither exists nor has a history, NotRestorable if it is gone without
    a recorded deletion. (The row and its last change are two reads: one that saw the
    row gone and then a change that is not a deletion was overtaken by a restore, and
    reads again.)"""
    for _attempt in range(TRANSACTION_ATTEMPTS):
        row = await database.fetch_one(_statements(resource).by_id, {"row_id": row_id})
        if row is not None:
            return row
        last = await history.last_change(database, _logged(resource), row_id)
        if last is None:
            raise resource.not_found()
        if last.op == "delete" and last.kept is not None:
            return last
    raise NotRestorable()


async def restore_row(
    database: Database,
    resource: Resource,
    restoring: Restoring,
    also: Sequence[Also] = (),
    *,
    origin: Origin = NO_ORIGIN,
) -> Row:
    """Bring the planned state back as the row's next version, recorded as a `restore`
    in the same transaction: an UPDATE of a row that exists (compared and set as
    `update_row`'s), or an INSERT of a deleted one under its id. A restore that loses a
    race (the row changed, was deleted, or was restored by another) is RestoreConflict,
    or PreconditionFailed when the client named the state it expected; a constraint of
    the row's own (a name taken meanwhile) is its ConstraintViolation.

    A reference to a row that is gone (a hero's team, a row's owner) comes back null, as
    that row's deletion would have left it had this one not been deleted: the foreign key
    refuses the first attempt, the references it names are read, and it runs again."""
    try:
        return await _restore(database, resource, restoring, also, origin)
    except ConstraintViolation as violation:
        if violation.kind != "foreign_key":
            raise
    cleared = await _without_missing_references(database, resource, restoring)
    try:
        return await _restore(database, resource, cleared, also, origin)
    except ConstraintViolation as violation:
        if violation.kind != "foreign_key":
            raise
        raise RestoreConflict() from None  # a row it refers to was deleted meanwhile


async def _restore(
    database: Database,
    resource: Resource,
    restoring: Restoring,
    also: Sequence[Also],
    origin: Origin,
) -> Row:
    if restoring.kept is None:
        return await _restore_existing(database, resource, restoring, also, origin)
    return await _restore_deleted(database, resource, restoring, also, origin)


async def _restore_existing(
    database: Database,
    resource: Resource,
    restoring: Restoring,
    also: Sequence[Also],
    origin: Origin,
) -> Row:
    row_id, expected = restoring.row_id, restoring.expected
    await _refuse_never_met(database, resource, row_id, expected)
    step = _update_step(resource, row_id, restoring.values, expected, also)
    write = (step, _records(resource, "restore", _public_among(resource, restoring.values)))
    try:
        return await _write_existing(
            database, resource, row_id, write, also, expected=expected, origin=origin
        )
    except NotFound:  # deleted since the restore was planned
        raise RestoreConflict() from None


async def _restore_deleted(
    database: Database,
    resource: Resource,
    restoring: Restoring,
    also: Sequence[Also],
    origin: Origin,
) -> Row:
    kept = dict(restoring.kept or {})
    created_at = _kept_time(kept.pop("created_at", None))
    values = {"id": restoring.row_id, **restoring.values, **kept}
    statement = STATEMENTS.get(
        (resource.name, "restore", tuple(values)), lambda: _reinsert(resource, tuple(values))
    )
    params = {f"set_{name}": value for name, value in values.items()}
    now = utc_now()
    params |= {"set_created_at": created_at or now, "set_updated_at": now}
    params["set_version"] = restoring.version
    records = _records(resource, "restore", _logged(resource).public)
    ahead = [_planned(each, each.ahead(None)) for each in also if each.refers_by is not None]
    behind = [
        _planned(each, each.step(False, len(ahead))) for each in also if each.refers_by is None
    ]
    try:
        results = await _run(
            database, [*ahead, (Step.row(statement, params), records), *behind], origin
        )
    except StepMissed:
        raise AlsoMissed() from None
    except ConstraintViolation as violation:
        unique = violation.kind == "unique"
        refusal = await _lost_restore(database, resource, restoring) if unique else None
        if refusal is None:
            raise
        raise refusal from None
    row: Row = results[len(ahead)]
    return row


async def _lost_restore(
    database: Database, resource: Resource, restoring: Restoring
) -> Exception | None:
    """Why a deleted row's restore was refused by a unique key, if it lost a race: the
    row is back (its id is taken), or another change took the version it was to have.
    None: neither, so another of the row's constraints refused it."""
    row_id = restoring.row_id
    row = await database.fetch_one(_statements(resource).owner_and_version, {"row_id": row_id})
    last = await history.last_change(database, _logged(resource), row_id)
    current = row[1] if row is not None else (last.version if last is not None else None)
    if current is None or (row is None and current + 1 == restoring.version):
        return None
    if restoring.expected is not None:
        return PreconditionFailed(row_id, current)
    return RestoreConflict()


async def _state_at(
    database: Database, log: ChangeLog, row_id: int, version: int
) -> dict[str, Any]:
    recorded = await history.change_at(database, log, row_id, version)
    if recorded is None:
        raise VersionNotRecorded()
    return _restorable(log, recorded.data)


def _restorable(log: ChangeLog, data: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded public state as the values a restore sets (the id is the row's own)."""
    return {name: data[name] for name in log.public if name != "id" and name in data}


def _refuse_on_deletion(row_id: int, deletion: history.Recorded, expected: Expected) -> None:
    """A deleted row's restore is judged on its deletion: its owner is the one the
    deletion kept, and its state is the deletion's version, changed then (so an ETag
    from before the deletion never matches, and If-None-Match: * does)."""
    if expected is None:
        return
    kept = deletion.kept or {}
    if expected.owner is not None and kept.get("owner_id") != expected.owner:
        raise NotOwner()
    conditions = replace(expected, no_row=False, owner=None)
    if not conditions.hold_for(deletion.version, deletion.changed_at):
        raise PreconditionFailed(row_id, deletion.version)


async def _without_missing_references(
    database: Database, resource: Resource, restoring: Restoring
) -> Restoring:
    """The restore with each reference to a row that does not exist set to null."""
    values, kept = dict(restoring.values), dict(restoring.kept or {})
    for name, exists in _references(resource):
        for given in (values, kept):
            referred = given.get(name)
            if referred is not None and not await database.fetch_one(
                exists, {"referred": referred}
            ):
                given[name] = None
    return replace(restoring, values=values, kept=None if restoring.kept is None else kept)


@cache
def _references(resource: Resource) -> tuple[tuple[str, Statement], ...]:
    """Each column of the resource's table that refers to another row, with the statement
    that finds the row it names (`referred`)."""
    return tuple(
        (key.parent.name, Statement(select(key.column).where(key.column == bindparam("referred"))))
        for key in sorted(resource.table.__table__.foreign_keys, key=lambda key: key.parent.name)
    )


def _kept_time(value: object) -> datetime | None:
    """A time a deletion kept (as JSON, RFC 3339), or None."""
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _logged(resource: Resource) -> ChangeLog:
    assert resource.changes is not None  # noqa: S101  # only a logged resource restores
    return resource.changes


def _reinsert(resource: Resource, fields: tuple[str, ...]) -> Any:
    """The INSERT that brings a deleted row back under its id, at a version given."""
    values: dict[str, Any] = {field: bindparam(f"set_{field}") for field in fields}
    values |= {
        "created_at": bindparam("set_created_at"),
        "updated_at": bindparam("set_updated_at"),
        "version": bindparam("set_version"),
    }
    return insert(resource.table).values(values).returning(*resource.stored)


def insert_statement(resource: Resource, fields: tuple[str, ...]) -> Statement:
    """The INSERT `create_row` runs to set these fields (the same cached statement), with
    `set_<field>`, `set_created_at` and `set_updated_at` params; it returns the stored
    columns."""
    return STATEMENTS.get((resource.name, "insert", fields), lambda: _insert(resource, fields))


def update_statement(resource: Resource, fields: frozenset[str], expected: Expected) -> Statement:
    """The UPDATE `update_row` runs to set these fields on a row that meets `expected`
    (the same cached statement), with `row_id`, `set_<field>`, `set_updated_at` and the
    preconditions' params."""
    shape = expected.shape() if expected else None
    return STATEMENTS.get(
        (resource.name, "update", fields, shape, None), lambda: _update(resource, fields, shape)
    )
