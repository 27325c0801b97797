"""A resource described once: its table, what it reads, how it is found, sorted and versioned.

The kit turns the description into everything a resource's API needs: the list's query
string, statements, cursors, links and counts (`app/kit/listing`), and single-row reads and
compare-and-set writes with their entity tags (`app/kit/rows.py`). What is special about a
resource stays in its own package, beside its description.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement

from app.db import Columns
from app.errors import NotFound
from app.kit.changes.log import ChangeLog
from app.kit.listing.filters import Filter
from app.kit.listing.query import FilterValue

VERSION_MAX = 2**31 - 1  # a 32-bit INTEGER column on every backend


@dataclass(frozen=True, slots=True)
class SortKey:
    """A key the list may sort by.

    `valid` says whether a (non-null) value could be this key's, so that a cursor's values
    are checked before they are bound. A `nullable` key sorts rows with no value as if
    theirs were the largest (PostgreSQL's own order, asked of the others per dialect).
    `note` is what /docs says of its order.
    """

    column: ColumnElement[Any]
    valid: Callable[[object], bool]
    nullable: bool = False
    note: str = ""


@dataclass(frozen=True, eq=False)  # one object per resource: hashed by identity
class Resource:
    """`summary` is what a page reads, every sort key among it, and the references that
    `expansions` follow; `stored` is what one row reads: `summary` first, then the
    `extra_fields` a client may ask for with `?fields=`, and the version last. Neither holds
    anything secret.

    The table has `created_at`, `updated_at` and `version` columns, which the kit sets:
    both times on create, `updated_at` and the version on every change."""

    name: str  # the plural noun, as in URLs and messages: "heroes"
    singular: str  # "hero"
    table: type[Any]
    id: ColumnElement[Any]
    version: ColumnElement[Any]
    updated_at: ColumnElement[Any]
    summary: Columns
    stored: Columns
    not_found: type[NotFound]
    filters: Mapping[str, Filter]
    sorts: Mapping[str, SortKey]  # "id" first
    sort_example: str
    fields: tuple[Any, Any] | None = None  # the `fields` parameter (type, Field()), if any
    extra_fields: tuple[str, ...] = ()
    expand: tuple[Any, Any] | None = None  # the `expand` parameter (type, Field()), if any
    expansions: tuple[str, ...] = ()  # what `expand` may name: related rows a body may embed
    page_size_max: int = 100
    version_max: int = VERSION_MAX
    owner: ColumnElement[Any] | None = None
    """The column naming the user who owns a row, if rows have owners (`Preconditions`'
    `owner`); never among what a row reads."""
    changes: ChangeLog | None = None
    """How the rows' changes are recorded (app/kit/changes), if they are: every public
    field among `stored`."""
    key_places: Mapping[str, int] = field(init=False)
    """Each sort key's place among the columns a page reads."""
    updated_at_place: int = field(init=False)
    """`updated_at`'s place among the columns one row reads."""
    change_places: tuple[int, ...] = field(init=False)
    """The change log's public fields' places among the columns one row reads."""

    def __post_init__(self) -> None:
        places = {key: _place(sort.column, self.summary) for key, sort in self.sorts.items()}
        object.__setattr__(self, "key_places", places)
        object.__setattr__(self, "updated_at_place", _place(self.updated_at, self.stored))
        public = self.changes.public_columns if self.changes else ()
        change_places = tuple(_place(each, self.stored) for each in public)
        object.__setattr__(self, "change_places", change_places)
        prefix = zip(self.stored, self.summary, strict=False)
        assert all(a is b for a, b in prefix)  # noqa: S101  # see the docstring
        assert self.stored[-1] is self.version  # noqa: S101

    @property
    def sort_rule(self) -> str:
        keys = list(self.sorts)
        listed = ", ".join(keys[:-1]) + f" and {keys[-1]}" if len(keys) > 1 else keys[0]
        return (
            f"sort is a comma-separated list of {listed}, each at most once and each "
            f"optionally prefixed with - for descending (for example {self.sort_example})"
        )

    def nullable_keys(self, filters: tuple[FilterValue, ...]) -> frozenset[str]:
        """The nullable sort keys a row that passes these filters may have no value for."""
        excluded = [
            each.column
            for each, value in zip(self.filters.values(), filters, strict=True)
            if each.excludes_null(value)
        ]
        return frozenset(
            key
            for key, sort in self.sorts.items()
            if sort.nullable and not any(sort.column is column for column in excluded)
        )


def _place(column: ColumnElement[Any], columns: Columns) -> int:
    # By identity: `==` on columns builds SQL.
    return next(place for place, each in enumerate(columns) if each is column)
