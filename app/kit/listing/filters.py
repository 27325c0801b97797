"""The filters a resource's list offers, each described once: its query parameters, how
their values are normalised, and the SQL condition they make.

A filter's normalised value is a tuple of slots (None where nothing was asked), so that
equal requests give equal values, share statements and share cursors. Values always reach
SQL as bound parameters; only the *shape* of a filter (which slots are set) changes the SQL
text, and a condition that would hold for every row is left out: a planner can be led
astray by one (SQLite read every hero with an age to sort them by name when `has_age=true`
was `age BETWEEN 0 AND AGE_MAX`).
"""

from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from app.kit.listing.query import FilterValue

Parameter = tuple[Any, Any]
"""A query parameter as pydantic declares a field: its type, and its `Field()`."""

ESCAPE = "\\"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class Filter(ABC):
    """One filter of a list, under the name the resource gives it."""

    column: ColumnElement[Any]

    @abstractmethod
    def parameters(self, name: str) -> dict[str, Parameter]:
        """The query parameters this filter reads, as /docs shows them."""

    @abstractmethod
    def value(self, name: str, given: Any) -> FilterValue:
        """The normalised value of the validated parameters (`given`'s attributes)."""

    @abstractmethod
    def conditions(self, name: str, shape: Hashable) -> list[ColumnElement[bool]]:
        """The WHERE conditions of a value of this shape."""

    @abstractmethod
    def params(self, name: str, value: FilterValue) -> dict[str, Any]:
        """The bound parameters of a value."""

    def shape(self, value: FilterValue) -> Hashable:
        """What of the value changes the SQL: by default, which slots are set."""
        return tuple(slot is not None for slot in value)

    def excludes_null(self, value: FilterValue) -> bool:  # by default none
        """Whether every row this value lets through has a value in `column`."""
        return False


@dataclass(frozen=True, slots=True)
class _OneParameter(Filter):
    """A filter read from one parameter of its own name."""

    column: ColumnElement[Any]
    type: Any
    field: Any  # its Field()

    def parameters(self, name: str) -> dict[str, Parameter]:
        return {name: (self.type | None, self.field)}

    def value(self, name: str, given: Any) -> FilterValue:
        return (getattr(given, name),)

    def params(self, name: str, value: FilterValue) -> dict[str, Any]:
        return {} if value[0] is None else {name: self.bound(value[0])}

    def bound(self, value: Any) -> Any:
        """What is bound for the value the client sent."""
        return value


class Equal(_OneParameter):
    """`name=value`: the column equals the value exactly."""

    def conditions(self, name: str, shape: Hashable) -> list[ColumnElement[bool]]:
        return [self.column == bindparam(name)] if shape == (True,) else []


class Contains(_OneParameter):
    """`name=text`: the column contains the text, A-Z and a-z matching each other and
    every other character only itself, alike on every database; `%`, `_` and `\\` are
    plain characters."""

    def conditions(self, name: str, shape: Hashable) -> list[ColumnElement[bool]]:
        if shape != (True,):
            return []
        return [_AsciiLower(self.column).like(bindparam(name), escape=ESCAPE)]

    def bound(self, value: Any) -> Any:
        return contains_pattern(value)


@dataclass(frozen=True, slots=True)
class Range(Filter):
    """A nullable number's filters: `name` (exactly), `min_name` and `max_name`
    (inclusive bounds), `has_name` (true: any value; false: none). They normalise to one
    range: `name` becomes both bounds, and `has_name=true` beside a bound says nothing
    more."""

    column: ColumnElement[Any]
    exact: Parameter
    low: Parameter
    high: Parameter
    present: Parameter

    def parameters(self, name: str) -> dict[str, Parameter]:
        return {
            name: self.exact,
            f"min_{name}": self.low,
            f"max_{name}": self.high,
            f"has_{name}": self.present,
        }

    def value(self, name: str, given: Any) -> FilterValue:
        exact, present = getattr(given, name), getattr(given, f"has_{name}")
        lows = [bound for bound in (exact, getattr(given, f"min_{name}")) if bound is not None]
        highs = [bound for bound in (exact, getattr(given, f"max_{name}")) if bound is not None]
        low, high = max(lows, default=None), min(highs, default=None)
        if present is True and (low is not None or high is not None):
            present = None
        return (low, high, present)

    def shape(self, value: FilterValue) -> Hashable:
        low, high, present = value
        return (low is not None, high is not None, present)

    def conditions(self, name: str, shape: Hashable) -> list[ColumnElement[bool]]:
        has_low, has_high, present = _range_shape(shape)
        conditions: list[ColumnElement[bool]] = []
        if has_low:
            conditions.append(self.column >= bindparam(f"min_{name}"))
        if has_high:
            conditions.append(self.column <= bindparam(f"max_{name}"))
        if present is not None:
            conditions.append(self.column.is_not(None) if present else self.column.is_(None))
        return conditions

    def params(self, name: str, value: FilterValue) -> dict[str, Any]:
        low, high, _present = value
        bounds = {f"min_{name}": low, f"max_{name}": high}
        return {key: bound for key, bound in bounds.items() if bound is not None}

    def excludes_null(self, value: FilterValue) -> bool:
        low, high, present = value
        return low is not None or high is not None or present is True


@dataclass(frozen=True, slots=True)
class Reference(Filter):
    """A nullable reference to another row: `name` (exactly that row) and `present_name`
    (true: any row; false: none), `has_team` beside `team_id`, say."""

    column: ColumnElement[Any]
    exact: Parameter
    present_name: str
    present: Parameter

    def parameters(self, name: str) -> dict[str, Parameter]:
        return {name: self.exact, self.present_name: self.present}

    def value(self, name: str, given: Any) -> FilterValue:
        exact, present = getattr(given, name), getattr(given, self.present_name)
        return (exact, None if exact is not None and present is True else present)

    def shape(self, value: FilterValue) -> Hashable:
        exact, present = value
        return (exact is not None, present)

    def conditions(self, name: str, shape: Hashable) -> list[ColumnElement[bool]]:
        assert isinstance(shape, tuple)  # noqa: S101  # Reference.shape made it
        has_exact, present = shape
        conditions: list[ColumnElement[bool]] = []
        if has_exact:
            conditions.append(self.column == bindparam(name))
        if present is not None:
            conditions.append(self.column.is_not(None) if present else self.column.is_(None))
        return conditions

    def params(self, name: str, value: FilterValue) -> dict[str, Any]:
        return {} if value[0] is None else {name: value[0]}

    def excludes_null(self, value: FilterValue) -> bool:
        exact, present = value
        return exact is not None or present is True


def _range_shape(shape: Hashable) -> tuple[bool, bool, bool | None]:
    assert isinstance(shape, tuple)  # noqa: S101  # Range.shape made it
    has_low, has_high, present = shape
    return has_low, has_high, present


def ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching text that contains `text`, its wildcards made literal."""
    escaped = ascii_lower(text).replace(ESCAPE, ESCAPE * 2)
    return "%" + escaped.replace("%", ESCAPE + "%").replace("_", ESCAPE + "_") + "%"


class _AsciiLower(ColumnElement[str]):
    """Text with A-Z made a-z and nothing else changed, alike on every database."""

    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, element: ColumnElement[str]) -> None:
        self.element = element
        self.type = element.type


@compiles(_AsciiLower)
def _ascii_lower(element: _AsciiLower, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's lower() knows ASCII only; so does PostgreSQL's under the "C" collation.
    return f"lower({compiler.process(element.element, **kw)})"


@compiles(_AsciiLower, "mysql")
@compiles(_AsciiLower, "mariadb")
def _ascii_lower_mariadb(element: _AsciiLower, compiler: SQLCompiler, **kw: Any) -> str:
    # MariaDB's LOWER() folds every script by its own tables: replace A-Z one by one.
    text = compiler.process(element.element, **kw)
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        text = f"REPLACE({text}, '{letter}', '{letter.lower()}')"
    return text
