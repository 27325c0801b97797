"""Reading a page: its rows, in order, and the total when the query asks for one."""

from dataclasses import dataclass

from app.db import Database, Row
from app.kit.listing import sql
from app.kit.listing.query import ListQuery
from app.kit.resource import Resource


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]  # the resource's summary columns, or its stored ones when extras are asked
    total: int | None  # every row the filters let through, when `Prefer: count=exact` asked


async def fetch_page(database: Database, resource: Resource, query: ListQuery) -> Page:
    statement, params = sql.page(resource, query)
    rows = await database.fetch_all(statement, params)
    if query.cursor is not None and query.cursor.before:
        rows.reverse()  # read backwards from the cursor
    total = await count_rows(database, resource, query) if query.count else None
    return Page(rows, total)


async def count_rows(database: Database, resource: Resource, query: ListQuery) -> int:
    """How many rows the query's filters let through, whatever the page."""
    statement, params = sql.count(resource, query)
    row = await database.fetch_one(statement, params)
    assert row is not None  # noqa: S101  # COUNT(*) always answers one row
    return int(row[0])
