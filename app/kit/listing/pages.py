"""Reading a page: its rows, in order, and the total when the query asks for one."""

from dataclasses import dataclass
from typing import Any

from app.db import Database, Row
from app.db.database import Step
from app.db.statements import Statement
from app.kit.changes.feed import Since, list_position_statement, list_since
from app.kit.listing import sql
from app.kit.listing.query import ListQuery
from app.kit.resource import Resource


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]  # the resource's summary columns, or its stored ones when extras are asked
    total: int | None  # every row the filters let through, when `Prefer: count=exact` asked
    position: Since | None = None
    """The change log's position in the rows' snapshot, for a resource that keeps one: a
    follower that starts there sees every change after these rows, and none before."""


async def fetch_page(database: Database, resource: Resource, query: ListQuery) -> Page:
    statement, params = sql.page(resource, query)
    position = None
    if resource.changes is None:
        rows = await database.fetch_all(statement, params)
    else:
        rows, position = await _with_position(
            database, resource.changes.resource, statement, params
        )
    if query.cursor is not None and query.cursor.before:
        rows.reverse()  # read backwards from the cursor
    total = await count_rows(database, resource, query) if query.count else None
    return Page(rows, total, position)


async def _with_position(
    database: Database, log_name: str, statement: Statement, params: dict[str, Any]
) -> tuple[list[Row], Since]:
    """The page's rows without the position each one carries last (two columns), and that
    position. An empty page carries none: it is read again with the position, in one
    snapshot."""
    rows = await database.fetch_all(statement, params)
    if not rows:
        rows, position = await database.snapshot(
            [Step.rows(statement, params), Step.row(list_position_statement(log_name), {})]
        )
        if not rows:
            return [], list_since(*position)
    return [row[:-2] for row in rows], list_since(*rows[0][-2:])


async def count_rows(database: Database, resource: Resource, query: ListQuery) -> int:
    """How many rows the query's filters let through, whatever the page."""
    statement, params = sql.count(resource, query)
    row = await database.fetch_one(statement, params)
    assert row is not None  # noqa: S101  # COUNT(*) always answers one row
    return int(row[0])
