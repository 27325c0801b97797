"""A batch of creates and changes of one resource's rows, as one transaction.

The transaction takes its locks in the order single writes take theirs, so that a batch
never deadlocks with them or with another batch: first the rows that the resource's rows
refer to and whose answers list them (`Touches`: a hero's teams), one statement each in id
order, then the rows the batch changes, one statement each in id order (a batch that
changed them in its items' order would lock two rows in the opposite order to another
batch's). The items then run in their own order, each one statement: an INSERT, or an
UPDATE that compares and sets the version and owner it expects, as PATCH's does. After
them, each referred row that one of the written items joined or left is touched once (its
version and `updated_at` move), and every change is recorded by the change log's step, in
the items' order: one sequencer round numbers them all, so followers see them at once.

What decides an item's fate is the database's:
- A change that matches no row failed; why is read from its row as the batch locked it (or
  as an earlier item of the batch left it): gone (404), another owner's (403), or at
  another version (412). A change that sends no field changes nothing, as an empty PATCH.
- A constraint's refusal (a team that does not exist, a name taken) ends a transaction, so
  the first attempt runs without savepoints (a savepoint costs two round trips an item on a
  server); if a constraint refuses an item, that attempt is rolled back and the batch runs
  again with each write under a savepoint of its own (`Step.refusable`), so that a refused
  item is undone alone and the answer can name every such item.
- An atomic batch with any failed item keeps nothing (its last check ends the transaction);
  a non-atomic one keeps every item that was written, in the same transaction.

A referred row is locked before the rows that refer to it are, so the batch first reads,
without a lock, which rows the changed ones refer to. If one of them moved meanwhile to a
row the batch did not lock (a hero changed team between the read and its lock), the batch
runs again from the start; a move among the rows it locked needs nothing more.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, literal, null, select

from app.db import Database, DatabaseUnavailable, Params, Row
from app.db.database import TRANSACTION_ATTEMPTS, Results, Step, StepMissed
from app.db.errors import ConstraintViolation
from app.db.statements import Statement
from app.db.tables import column, utc_now
from app.errors import NotOwner, PreconditionFailed
from app.kit import rows
from app.kit.batch.items import Changed, Failed, Item, New
from app.kit.changes.log import NO_ORIGIN, ChangeLog, Entry, Op, Origin, recording
from app.kit.resource import Resource
from app.kit.rows import Also, AlsoMissed


@dataclass(frozen=True, slots=True)
class Touches:
    """Rows of another resource that a row refers to by `reference`, and whose answers
    list the rows that refer to them (a hero's team): touched once by a batch that creates
    a row referring to one, or changes one that does or will, and recorded as an update of
    `changed`."""

    reference: ColumnElement[Any]
    log: ChangeLog
    changed: tuple[str, ...]


@dataclass(frozen=True, eq=False)  # one per resource: hashed by identity
class BatchWrites:
    """How a resource's batches are written: its description, what a constraint's refusal
    of an item means to a client, and the rows its rows touch, if any."""

    resource: Resource
    refusal: Callable[[ConstraintViolation], Exception]
    touches: Touches | None = None


@dataclass(frozen=True, slots=True)
class Written:
    """An item written: its row's stored columns as the write left them; `op` None for a
    change that sent no field (nothing written, nothing recorded)."""

    row: Row
    op: Op | None
    changed: tuple[str, ...] = ()
    touched: frozenset[int] = frozenset()


Result = Written | Failed


@dataclass(frozen=True, slots=True)
class Outcome:
    """Each item's result, in order; `kept` False for an atomic batch refused (nothing was
    written), whose results name only the items that failed (the others are None)."""

    results: tuple[Result | None, ...]
    kept: bool = True


async def write_batch(  # noqa: PLR0913  # `origin` only says who, for the change log
    database: Database,
    spec: BatchWrites,
    items: Sequence[Item],
    *,
    atomic: bool,
    also: Sequence[Also] = (),
    origin: Origin = NO_ORIGIN,
) -> Outcome:
    """Write the items (see the module's docstring); `also` steps run in the transaction
    (an Idempotency-Key's answer), their params computed from `(None, (outcome,))`."""
    if atomic and any(isinstance(item, Failed) for item in items):
        return _refused(items)
    try:
        return await _attempts(database, _Batch(spec, items, atomic, also, origin, False))
    except ConstraintViolation:
        # A constraint refused an item, and nothing was kept: each write undone alone now.
        return await _attempts(database, _Batch(spec, items, atomic, also, origin, True))


def _refused(items: Sequence[Item]) -> Outcome:
    return Outcome(tuple(item if isinstance(item, Failed) else None for item in items), False)


@dataclass(frozen=True, slots=True)
class _Batch:
    spec: BatchWrites
    items: Sequence[Item]
    atomic: bool
    also: Sequence[Also]
    origin: Origin
    refusable: bool


async def _attempts(database: Database, batch: _Batch) -> Outcome:
    for _attempt in range(TRANSACTION_ATTEMPTS):
        run = _Run(batch)
        try:
            await database.transaction(run.steps())
        except _Moved:
            continue
        except _Refused as refused:
            return refused.outcome
        except StepMissed:
            raise AlsoMissed() from None
        assert run.outcome is not None  # noqa: S101  # the tally ran
        return run.outcome
    # A row moved under every attempt: as busy as a deadlock, and as worth a retry.
    raise DatabaseUnavailable


class _Moved(StepMissed):
    """A changed row refers to another row than the one locked for it: run again. (A
    StepMissed: the transaction ended itself cleanly, its connection reusable.)"""


class _Refused(StepMissed):
    """An atomic batch with a failed item: nothing is kept."""

    def __init__(self, outcome: Outcome, results: Results) -> None:
        super().__init__(len(results), results)
        self.outcome = outcome


_NOTHING = Statement(select(literal(1)))


def _check(check: Callable[[Results], None]) -> Step:
    """A step that runs no statement: `check` looks at the results so far, and may end
    the transaction (rolled back) by raising."""

    def params(results: Results) -> None:
        check(results)

    return Step(_NOTHING, params)


class _Statements:
    """What a batch of one resource reads and locks besides its writes."""

    def __init__(self, spec: BatchWrites) -> None:
        resource = spec.resource
        is_row = resource.id == bindparam("row_id")
        self.by_id = Statement(select(*resource.stored).where(is_row))
        owner = resource.owner if resource.owner is not None else null()
        # FOR UPDATE where the database has row locks; SQLite's one writer needs none.
        self.locked = Statement(select(*resource.stored, owner).where(is_row).with_for_update())
        touches = spec.touches
        if touches is not None:
            table = touches.log.table
            referred = column(table.id)
            self.referred = Statement(
                select(referred).where(referred == bindparam("row_id")).with_for_update()
            )
            self.touch = rows.touch_statement(table)


@cache
def _statements(spec: BatchWrites) -> _Statements:
    return _Statements(spec)


@cache
def _references(spec: BatchWrites, slots: int) -> Statement:
    """The rows' ids and references, for `slots` ids (`id_0`...)."""
    resource = spec.resource
    assert spec.touches is not None  # noqa: S101  # only a batch that touches reads them
    ids: list[Any] = [bindparam(f"id_{slot}") for slot in range(slots)]
    return Statement(select(resource.id, spec.touches.reference).where(resource.id.in_(ids)))


class _Run:
    """One attempt at a batch: its steps, and what they found."""

    def __init__(self, batch: _Batch) -> None:
        self.batch = batch
        self.spec = batch.spec
        self.resource = batch.spec.resource
        self.statements = _statements(batch.spec)
        self.now = utc_now()
        items = batch.items
        self.changed_ids = sorted({item.row_id for item in items if isinstance(item, Changed)})
        touches = self.spec.touches
        self.reference = None if touches is None else _place(touches.reference, self.resource)
        self.named = self._named_references()
        self.outcome: Outcome | None = None
        self._referred: list[int] | None = None
        self._touched: list[int] = []
        # Where each kind of step sits among the results (set by `steps`).
        self.read_at = self.referred_at = self.locked_at = self.touched_at = 0
        self.write_at: dict[int, int] = {}  # an item's index -> its write's step

    def steps(self) -> list[Step]:
        steps = [_check(self._start)]
        self.read_at = len(steps)
        steps += self._reads()
        self.referred_at = len(steps)
        steps += self._referred_locks()
        self.locked_at = len(steps)
        steps += [Step.row(self.statements.locked, {"row_id": row}) for row in self.changed_ids]
        if self.reference is not None and self.changed_ids:
            steps.append(_check(self._unmoved))
        self.write_at = {}
        for index, item in enumerate(self.batch.items):
            write = self._write(item)
            if write is not None:
                self.write_at[index] = len(steps)
                steps.append(write)
        steps.append(_check(self._tally))
        self.touched_at = len(steps)
        steps += self._touches()
        steps.append(_check(self._verdict))
        steps += [self._also(each) for each in self.batch.also]
        steps.append(recording(self._entries, self.batch.origin))
        return steps

    # --- what is read and locked first ---------------------------------------------------

    def _named_references(self) -> set[int]:
        """The referred rows the items' values name."""
        touches = self.spec.touches
        if touches is None:
            return set()
        field = str(touches.reference.key)
        return {
            item.values[field]
            for item in self.batch.items
            if isinstance(item, New | Changed) and item.values.get(field) is not None
        }

    def _start(self, _results: Results) -> None:
        self.outcome, self._referred, self._touched = None, None, []

    def _reads(self) -> list[Step]:
        """The changed rows' references, read without a lock, to know what to lock first."""
        if self.reference is None or not self.changed_ids:
            return []
        ids = self.changed_ids
        slots = rows.version_slots(len(ids))
        params = {f"id_{slot}": ids[min(slot, len(ids) - 1)] for slot in range(slots)}
        return [Step.rows(_references(self.spec, slots), params)]

    def _referred_locks(self) -> list[Step]:
        if self.reference is None:
            return []
        most = len(self.named) + len(self.changed_ids)
        return [
            Step.row(self.statements.referred, self._referred_at(place)) for place in range(most)
        ]

    def _referred_at(self, place: int) -> Callable[[Results], Params | None]:
        def params(results: Results) -> Params | None:
            referred = self._referred_rows(results)
            return {"row_id": referred[place]} if place < len(referred) else None

        return params

    def _referred_rows(self, results: Results) -> list[int]:
        """Every row the batch may touch, in id order: those the items name, and those
        the changed rows refer to now."""
        if self._referred is None:
            found = set(self.named)
            if self.changed_ids:
                found |= {row[1] for row in results[self.read_at] if row[1] is not None}
            self._referred = sorted(found)
        return self._referred

    def _unmoved(self, results: Results) -> None:
        """Each changed row refers to a row locked for it (or to none)."""
        assert self.reference is not None  # noqa: S101  # planned only with references
        referred = set(self._referred_rows(results))
        for place in range(len(self.changed_ids)):
            locked = results[self.locked_at + place]
            if locked is not None and locked[self.reference] not in referred | {None}:
                raise _Moved(self.locked_at + place, results)

    # --- the items ------------------------------------------------------------------------

    def _write(self, item: Item) -> Step | None:
        if isinstance(item, New):
            return self._insert(item)
        if isinstance(item, Changed) and item.values:
            return self._update(item)
        return None  # failed already, or a change of nothing

    def _insert(self, item: New) -> Step:
        statement = rows.insert_statement(self.resource, tuple(item.values))
        params = {f"set_{name}": value for name, value in item.values.items()}
        params |= {"set_created_at": self.now, "set_updated_at": self.now}
        step = Step.row(statement, params)
        return _refusable(step) if self.batch.refusable else step

    def _update(self, item: Changed) -> Step:
        fields = frozenset(item.values)
        statement = rows.update_statement(self.resource, fields, item.expected)
        params: dict[str, Any] = {"row_id": item.row_id, "set_updated_at": self.now}
        params |= {f"set_{name}": value for name, value in item.values.items()}
        params |= item.expected.params() if item.expected else {}
        step = Step.updated(statement, self.statements.by_id, params)
        return _refusable(step) if self.batch.refusable else step

    def _tally(self, results: Results) -> None:
        """Each item's result, from its write's and the locks' results."""
        latest: dict[int, Row | None] = {
            row_id: results[self.locked_at + place]
            for place, row_id in enumerate(self.changed_ids)
        }
        tallied: list[Result | None] = []
        for index, item in enumerate(self.batch.items):
            written = results[self.write_at[index]] if index in self.write_at else None
            if isinstance(item, Failed):
                tallied.append(item)
            elif isinstance(item, New):
                tallied.append(self._created(written))
            else:
                tallied.append(self._changed(item, written, latest))
        self.outcome = Outcome(tuple(tallied))
        self._touched = sorted(
            {row for each in tallied if isinstance(each, Written) for row in each.touched}
        )

    def _created(self, written: Any) -> Result:
        if isinstance(written, ConstraintViolation):
            return Failed(self.spec.refusal(written))
        log = self.resource.changes
        return Written(written, "create", log.public if log else (), self._refers(written))

    def _changed(self, item: Changed, written: Any, latest: dict[int, Row | None]) -> Result:
        before = latest[item.row_id]  # as locked, with its owner last
        if not item.values:
            return _unchanged(self.resource, item, before)
        if isinstance(written, ConstraintViolation):
            return Failed(self.spec.refusal(written))
        if written is None:
            return Failed(_missed(self.resource, item, before))
        assert before is not None  # noqa: S101  # the row was locked, then written
        latest[item.row_id] = (*written, before[-1])
        log = self.resource.changes
        changed = tuple(name for name in log.public if name in item.values) if log else ()
        return Written(written, "update", changed, self._refers(before) | self._refers(written))

    def _refers(self, row: Row) -> frozenset[int]:
        if self.reference is None or row[self.reference] is None:
            return frozenset()
        return frozenset({row[self.reference]})

    # --- after the items ------------------------------------------------------------------

    def _touches(self) -> list[Step]:
        touches = self.spec.touches
        if touches is None:
            return []
        most = len(self.named) + len(self.changed_ids)
        touch = self.statements.touch
        return [
            Step.updated(touch, touches.log.reread, self._touch_at(place)) for place in range(most)
        ]

    def _touch_at(self, place: int) -> Callable[[Results], Params | None]:
        def params(_results: Results) -> Params | None:
            if place >= len(self._touched):
                return None
            return {"row_id": self._touched[place], "touched_at": self.now}

        return params

    def _verdict(self, results: Results) -> None:
        assert self.outcome is not None  # noqa: S101  # the tally ran
        if self.batch.atomic and any(isinstance(each, Failed) for each in self.outcome.results):
            raise _Refused(Outcome(self.outcome.results, kept=False), results)

    def _also(self, also: Also) -> Step:
        def params(_results: Results) -> Params | None:
            return also.params(None, (self.outcome,))

        if also.reread is not None:
            return Step.updated(also.statement, also.reread, params, required=also.required)
        return Step(also.statement, params, also.returns, required=also.required)

    def _entries(self, results: Results) -> list[Entry]:
        """The changes to record: each written item's, in order, then each touched row's."""
        assert self.outcome is not None  # noqa: S101  # the tally ran
        entries = []
        log = self.resource.changes
        for each in self.outcome.results:
            if log is not None and isinstance(each, Written) and each.op is not None:
                data = log.data([each.row[place] for place in self.resource.change_places])
                entries.append(Entry(log, each.row[0], each.row[-1], each.op, data, each.changed))
        touches = self.spec.touches
        for place in range(len(self._touched)):
            touched = results[self.touched_at + place]
            if touches is not None and touched is not None:
                data = touches.log.data(touched[:-1])
                entries.append(
                    Entry(touches.log, data["id"], touched[-1], "update", data, touches.changed)
                )
        return entries


def _refusable(step: Step) -> Step:
    return Step(step.statement, step.params, step.returns, step.reread, refusable=True)


def _unchanged(resource: Resource, item: Changed, before: Row | None) -> Result:
    """A change of no field writes nothing: its row, if it meets what the item expects."""
    if before is None:
        return Failed(resource.not_found())
    expected = item.expected
    if expected is not None:
        if expected.owner is not None and before[-1] != expected.owner:
            return Failed(NotOwner())
        version, updated_at = before[-2], before[resource.updated_at_place]
        if not expected.hold_for(version, updated_at):
            return Failed(PreconditionFailed(item.row_id, version))
    return Written(before[:-1], None)


def _missed(resource: Resource, item: Changed, before: Row | None) -> Exception:
    """Why a change matched no row, from the row as the batch had it: gone, another
    owner's, or at another version (in that order, as a PATCH says it)."""
    if before is None:
        return resource.not_found()
    expected = item.expected
    if expected is not None and expected.owner is not None and before[-1] != expected.owner:
        return NotOwner()
    return PreconditionFailed(item.row_id, before[-2])


def _place(reference: ColumnElement[Any], resource: Resource) -> int:
    # By identity: `==` on columns builds SQL.
    return next(place for place, each in enumerate(resource.stored) if each is reference)
