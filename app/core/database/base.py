"""The data-access contract: run a SQLAlchemy Core statement, get plain rows back.

Statements are written once, in SQLAlchemy Core, by the domain that owns them (for example
`app/heroes/queries.py`), and compiled once per database. Each backend then runs them the
cheapest way that is still safe for it (see `create_database`). No ORM session, identity
map or statement construction happens per request: bench/PROFILE.md measured those as
most of a request's cost.
"""

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Select, Update
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ColumnElement

Params = Mapping[str, Any]
Row = tuple[Any, ...]
Columns = tuple[ColumnElement[Any], ...]
Statement = Select[Any] | UpdateBase


@dataclass(frozen=True, slots=True)
class PoolUsage:
    in_use: int  # connections (or SQLite's writer) busy with a statement now
    waiting: int  # requests queued for one


class Database(ABC):
    """One database as the domains see it. Every method is one statement, committed alone
    (or one transaction where a backend needs two statements), and raises
    `DatabaseUnavailable` when the database cannot be reached or does not answer in time."""

    @abstractmethod
    async def fetch_one(self, query: Select[Any], params: Params) -> Row | None:
        """The first row of a query, or None."""

    @abstractmethod
    async def fetch_all(self, query: Select[Any], params: Params) -> list[Row]:
        """Every row of a query."""

    @abstractmethod
    async def write(self, statement: UpdateBase, params: Params) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it matched."""

    @abstractmethod
    async def write_returning(self, statement: UpdateBase, params: Params) -> Row | None:
        """Run an INSERT or DELETE that has a RETURNING clause; the row it returned."""

    @abstractmethod
    async def update_returning(
        self, statement: Update, reread: Select[Any], params: Params
    ) -> Row | None:
        """Run an UPDATE of one row and return that row as `reread` selects it by its key,
        as of that change (None if the UPDATE matched no row). Atomic on every backend:
        where UPDATE has RETURNING, `reread`'s columns are returned; elsewhere (MariaDB)
        `reread` runs after the UPDATE, in its transaction, under its row lock."""

    @abstractmethod
    def pool_usage(self) -> PoolUsage:
        """How busy this worker's connections are, for /metrics."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close every connection this object holds (it may open new ones if used again)."""


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    """A statement's SQL for one dialect, with the conversions a raw driver needs."""

    sql: str
    fixed_params: Params  # values written into the statement itself, e.g. `limit(10)`
    bind_processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    result_processors: tuple[Callable[[Any], Any] | None, ...] | None

    def bind(self, params: Params) -> Params:
        if self.fixed_params:
            params = {**self.fixed_params, **params}
        if not self.bind_processors:
            return params
        bound = dict(params)
        for name, process in self.bind_processors:
            if name in bound:
                bound[name] = process(bound[name])
        return bound

    def row(self, raw: Sequence[Any]) -> Row:
        if self.result_processors is None:
            return tuple(raw)
        return tuple(
            value if process is None else process(value)
            for value, process in zip(raw, self.result_processors, strict=True)
        )


class StatementCache:
    """Compiles each statement for one dialect the first time it runs.

    Keyed by the statement object: statements are module constants or built once per
    shape (see the domains' queries modules). Shapes can be many (the hero list has
    thousands, from the filters and sorts clients combine), so the cache keeps the
    `max_size` statements used last; one used again after that is compiled again.
    """

    def __init__(self, dialect: Dialect, max_size: int = 1024) -> None:
        self.dialect = dialect
        self.max_size = max_size
        # The statements are kept beside their compiled forms so that their ids stay theirs
        # for as long as the entry is here: an id can only be reused after its eviction.
        self._compiled: OrderedDict[tuple[int, int], tuple[object, CompiledStatement]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._compiled)

    def get(
        self, statement: Statement, *, returning: Select[Any] | None = None
    ) -> CompiledStatement:
        """`statement` compiled; with `returning`, the DML statement returning its columns."""
        key = (id(statement), id(returning))
        cached = self._compiled.get(key)
        if cached is None:
            executable = statement
            if returning is not None:
                assert isinstance(statement, UpdateBase)  # noqa: S101  # only DML returns
                executable = statement.returning(*returning.selected_columns)
            cached = ((statement, returning), self._compile(executable))
            self._compiled[key] = cached
            if len(self._compiled) > self.max_size:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(key)
        return cached[1]

    def _compile(self, statement: Statement) -> CompiledStatement:
        dialect = self.dialect
        compiled = statement.compile(dialect=dialect)
        bind_processors = tuple(
            (name, process)
            for name, bind in compiled.binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        )
        result_processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.exported_columns
        )
        return CompiledStatement(
            sql=compiled.string,
            fixed_params={
                name: bind.effective_value
                for name, bind in compiled.binds.items()
                if not bind.required
            },
            bind_processors=bind_processors,
            result_processors=result_processors if any(result_processors) else None,
        )
