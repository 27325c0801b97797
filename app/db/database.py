"""The data-access contract: run a prepared statement, get plain rows back.

Statements are written once, in SQLAlchemy Core, by the domain or kit that owns them
(`app/db/statements.py`). Each backend runs them the cheapest way that is still safe for it
(`app/db/backends.py`). No ORM session or identity map is involved per request:
bench/PROFILE.md measured those as most of a request's cost.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.sql.elements import ColumnElement

from app.db.statements import Params, Row, Statement

Columns = tuple[ColumnElement[Any], ...]

__all__ = [
    "TRANSACTION_ATTEMPTS",
    "Columns",
    "Database",
    "Params",
    "PoolUsage",
    "Row",
    "Statement",
    "Step",
    "StepMissed",
]

TRANSACTION_ATTEMPTS = 3
"""How often a transaction runs in all when the database ends it to break a deadlock (or a
serialization conflict): each attempt starts afresh, and the last one's error is raised."""

Results = Sequence[Any]
"""What the steps of a transaction that ran before a step returned, in order."""
StepParams = Params | Callable[[Results], Params | None]
ManyParams = Sequence[Params] | Callable[[Results], Sequence[Params] | None]


@dataclass(frozen=True, slots=True)
class Step:
    """One statement of a transaction.

    `params` may be computed from the results of the steps before it (a row an INSERT
    returned, say); a step whose params come out None is skipped, and its result is None.
    A `required` step that matches no row (a count of 0, no row returned) ends the
    transaction: it is rolled back, and `StepMissed` says which step it was.
    """

    statement: Statement
    params: StepParams | ManyParams
    returns: Literal["count", "row", "rows", "many"] = "count"
    reread: Statement | None = None
    """For an UPDATE that returns its row: that row as `reread` selects it (see
    `Database.update_returning`)."""
    required: bool = False
    refusable: bool = False
    """A write a unique or foreign-key constraint may refuse without ending the
    transaction: it runs under a savepoint of its own, and when a constraint refuses it,
    only it is undone and its result is that `ConstraintViolation` (a batch's item)."""

    @classmethod
    def count(cls, statement: Statement, params: StepParams, *, required: bool = False) -> "Step":
        """An INSERT, UPDATE or DELETE: the number of rows it matched."""
        return cls(statement, params, "count", required=required)

    @classmethod
    def row(cls, statement: Statement, params: StepParams, *, required: bool = False) -> "Step":
        """A SELECT, or an INSERT or DELETE with RETURNING: its first row, or None."""
        return cls(statement, params, "row", required=required)

    @classmethod
    def rows(cls, statement: Statement, params: StepParams) -> "Step":
        return cls(statement, params, "rows")

    @classmethod
    def many(cls, statement: Statement, params: ManyParams) -> "Step":
        """An INSERT run once for each of a list of params (the driver's executemany):
        the number of rows it wrote. An empty list skips it, as None does."""
        return cls(statement, params, "many")

    @classmethod
    def updated(
        cls, statement: Statement, reread: Statement, params: StepParams, *, required: bool = False
    ) -> "Step":
        """An UPDATE of one row: that row, as of this change, or None if none matched."""
        return cls(statement, params, "row", reread=reread, required=required)

    def params_after(self, results: Results) -> Any:
        """Params for this step (a list of them for `many`), or None: skip it."""
        params = self.params(results) if callable(self.params) else self.params
        return (params or None) if self.returns == "many" else params

    def check(self, index: int, result: Any, results: Results) -> None:
        """Raise StepMissed if this step, run as the `index`th after `results`, is required
        and its `result` matched no row."""
        if self.required and not result:
            raise StepMissed(index, results)


def run_steps(steps: Sequence[Step], run: Callable[[Step, Params], Any]) -> list[Any]:
    """Each step's result, in order, `run` running it with its params: the loop of a
    backend whose driver is synchronous (its caller owns BEGIN and COMMIT)."""
    results: list[Any] = []
    for index, step in enumerate(steps):
        params = step.params_after(results)
        result = None if params is None else run(step, params)
        if params is not None:
            step.check(index, result, results)
        results.append(result)
    return results


class StepMissed(Exception):
    """A required step of a transaction matched no row: nothing of it was kept."""

    def __init__(self, step: int, results: Results) -> None:
        super().__init__(f"step {step} matched no row")
        self.step = step
        self.results = results  # of the steps before it, as they ran before the rollback


@dataclass(frozen=True, slots=True)
class PoolUsage:
    in_use: int  # connections (or SQLite's writer) busy with a statement now
    waiting: int  # requests queued for one


class Database(ABC):
    """One database as the service sees it. Every method but `transaction` is one
    statement, committed alone (or one transaction where a backend needs two statements).
    Each raises `DatabaseUnavailable` when the database cannot be reached or does not answer
    in time, and `ConstraintViolation` when a constraint refuses a write."""

    writes_in_with = False
    """Whether a statement may hold INSERTs, UPDATEs and DELETEs in its WITH clause
    (PostgreSQL): then one statement can write a row and what follows from it."""

    @abstractmethod
    async def fetch_one(self, query: Statement, params: Params) -> Row | None:
        """The first row of a query, or None."""

    @abstractmethod
    async def fetch_all(self, query: Statement, params: Params) -> list[Row]:
        """Every row of a query."""

    @abstractmethod
    async def write(self, statement: Statement, params: Params) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it matched."""

    @abstractmethod
    async def write_returning(self, statement: Statement, params: Params) -> Row | None:
        """Run an INSERT or DELETE that has a RETURNING clause; the row it returned."""

    @abstractmethod
    async def update_returning(
        self, statement: Statement, reread: Statement, params: Params
    ) -> Row | None:
        """Run an UPDATE of one row and return that row as `reread` selects it by its key,
        as of that change (None if the UPDATE matched no row). Atomic on every backend:
        where UPDATE has RETURNING, `reread`'s columns are returned; elsewhere (MariaDB)
        `reread` runs after the UPDATE, in its transaction, under its row lock."""

    @abstractmethod
    async def transaction(self, steps: Sequence[Step]) -> list[Any]:
        """Run `steps` in order as one transaction, on one connection, and commit; each
        step's result, in order. Rolled back as a whole if any step fails or misses
        (`StepMissed`). Run again, up to TRANSACTION_ATTEMPTS times in all, when the
        database ends it to break a deadlock."""

    async def snapshot(self, steps: Sequence[Step]) -> list[Any]:
        """Run reads that must see one snapshot of the database: a transaction whose
        statements all see what was committed when its first one ran. SQLite's writer
        transaction and MariaDB's REPEATABLE READ (its default) give that; PostgreSQL
        asks for it (`PostgresDatabase.snapshot`)."""
        return await self.transaction(steps)

    @abstractmethod
    def pool_usage(self) -> PoolUsage:
        """How busy this worker's connections are, for /metrics."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close every connection this object holds (it may open new ones if used again)."""
