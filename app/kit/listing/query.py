"""What a list request asks for, as plain values: no HTTP, no SQL.

A `ListQuery` holds each filter's normalised value, a total order (the sort, ended by the
id), and where the page starts (an offset, or a cursor). `parameters.py` reads one from a
request; `sql.py` turns one into a statement; `links.py` writes the page's links.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.kit.listing.cursors import Cursor, fingerprint

OFFSET_MAX = 2**63 - 1  # the largest offset a list accepts: a BIGINT
FilterValue = tuple[Any, ...]
"""One filter's normalised value: a fixed number of slots, None where nothing was asked."""


class InvalidQuery(ValueError):
    """A list request that breaks a rule; `parameter` names the parameter (None: the query
    string as a whole) and the message says what is allowed, never what was sent."""

    def __init__(self, parameter: str | None, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True, slots=True)
class Order:
    key: str  # a sort key of the resource
    descending: bool = False

    def reversed(self) -> "Order":
        return Order(self.key, not self.descending)


@dataclass(frozen=True, slots=True)
class ListQuery:
    filters: tuple[FilterValue, ...]  # one per filter of the resource, in its order
    sort: tuple[Order, ...]  # a total order: the last key is the id
    limit: int
    offset: int | None = None  # None: the client sent no offset
    cursor: Cursor | None = None
    extra: tuple[str, ...] = ()  # extra fields asked for with ?fields=
    expand: tuple[str, ...] = ()  # related rows asked for with ?expand=
    count: bool = False  # Prefer: count=exact

    def made_for(self) -> bytes:
        """What a cursor of this query is bound to: the sort and the filters."""
        sort = [[order.key, order.descending] for order in self.sort]
        return fingerprint([sort, [slot for value in self.filters for slot in value]])

    def read_orders(self) -> tuple[Order, ...]:
        """The order to read rows in: a page before its cursor is read backwards."""
        if self.cursor is not None and self.cursor.before:
            return tuple(order.reversed() for order in self.sort)
        return self.sort


def parse_sort(raw: str | None, keys: Mapping[str, object], rule: str) -> tuple[Order, ...]:
    """The client's keys, then `id` in the direction of the last key if not given."""
    if raw is None:
        return (Order("id"),)
    orders = [_parse_order(item.strip(), keys, rule) for item in raw.split(",")]
    names = [order.key for order in orders]
    if len(set(names)) < len(names):
        raise InvalidQuery("sort", f"a key appears twice: {rule}")
    if "id" in names:  # the id is unique: keys after it never decide anything
        return tuple(orders[: names.index("id") + 1])
    return (*orders, Order("id", orders[-1].descending))


def _parse_order(item: str, keys: Mapping[str, object], rule: str) -> Order:
    key = item.removeprefix("-")
    if key not in keys:
        raise InvalidQuery("sort", f"unknown or empty sort key: {rule}")
    return Order(key, descending=item.startswith("-"))


def wants_count(prefer: str | None) -> bool:
    """Whether a `Prefer` header (RFC 7240) asks for `count=exact`."""
    if not prefer:
        return False
    for preference in prefer.split(","):
        token, _, value = preference.split(";")[0].partition("=")
        if token.strip().lower() == "count" and value.strip().strip('"').lower() == "exact":
            return True
    return False
