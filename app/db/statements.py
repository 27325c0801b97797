"""Statements built once in SQLAlchemy Core, each compiled once per dialect it runs on.

No statement construction or compilation happens per request: bench/PROFILE.md measured
those as most of a request's cost. A domain keeps its fixed statements as module constants
(`Statement(select(...))`); statements whose SQL depends on what a client asked for (the
list's filters, sorts and cursors: thousands of shapes) are built through the one
`StatementCache`, keyed by their shape, which keeps the most recently used. A statement's
compiled forms live on it, so they leave the cache with it.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CompoundSelect, Dialect, Select
from sqlalchemy.sql.dml import UpdateBase

Params = Mapping[str, Any]
Row = tuple[Any, ...]
Executable = Select[Any] | CompoundSelect[Any] | UpdateBase


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    """A statement's SQL for one dialect, with the conversions a raw driver needs."""

    sql: str
    fixed_params: Params  # values written into the statement itself, e.g. `limit(10)`
    bind_processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    result_processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    """Each column that needs converting, by its place, with its converter: most columns
    need none, and a row only pays for those that do."""

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
        if not self.result_processors:
            return tuple(raw)
        values = list(raw)
        for place, process in self.result_processors:
            values[place] = process(values[place])
        return tuple(values)


class Statement:
    """One SQLAlchemy statement (`sql`), and its SQL per dialect, compiled when first run."""

    __slots__ = ("_compiled", "_derived", "sql")

    def __init__(self, sql: Executable) -> None:
        self.sql = sql
        self._compiled: dict[tuple[type[Dialect], str], CompiledStatement] = {}
        self._derived: dict[Hashable, Statement] = {}

    def compiled(self, dialect: Dialect) -> CompiledStatement:
        key = (type(dialect), dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _compile(self.sql, dialect)
        return compiled

    def derived(self, key: Hashable, build: Callable[[Executable], Executable]) -> "Statement":
        """The statement `build` makes of this one, built once per `key` and kept with
        this one (so it leaves the cache with it)."""
        statement = self._derived.get(key)
        if statement is None:
            statement = self._derived[key] = Statement(build(self.sql))
        return statement

    def returning(self, reread: "Statement") -> "Statement":
        """This INSERT, UPDATE or DELETE returning the columns `reread` selects."""

        def build(sql: Executable) -> Executable:
            assert isinstance(sql, UpdateBase)  # noqa: S101  # only DML returns
            assert isinstance(reread.sql, Select)  # noqa: S101
            return sql.returning(*reread.sql.selected_columns)

        return self.derived(reread, build)


class StatementCache:
    """Statements built per shape, the `max_size` used last kept; one used again after its
    eviction is built and compiled again. Shapes are finite but many (a page of heroes has
    thousands, about 12 KB each compiled): a client that tries every combination costs
    compiling time, never unbounded memory."""

    def __init__(self, max_size: int = 1024) -> None:
        self.max_size = max_size
        self._statements: OrderedDict[Hashable, Statement] = OrderedDict()

    def __len__(self) -> int:
        return len(self._statements)

    def get(self, shape: Hashable, build: Callable[[], Executable]) -> Statement:
        statement = self._statements.get(shape)
        if statement is None:
            statement = self._statements[shape] = Statement(build())
            if len(self._statements) > self.max_size:
                self._statements.popitem(last=False)
        else:
            self._statements.move_to_end(shape)
        return statement


STATEMENTS = StatementCache()
"""The process's statements built per shape: every domain's lists share this one cache."""


def _compile(statement: Executable, dialect: Dialect) -> CompiledStatement:
    compiled = statement.compile(dialect=dialect)
    bind_processors = tuple(
        (name, process)
        for name, bind in compiled.binds.items()
        if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    )
    result_processors = tuple(
        (place, process)
        for place, column in enumerate(statement.exported_columns)
        if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
        is not None
    )
    return CompiledStatement(
        sql=compiled.string,
        fixed_params={
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if not bind.required
        },
        bind_processors=bind_processors,
        result_processors=result_processors,
    )
