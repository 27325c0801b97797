"""The list's statements: one object per shape of query, and a bounded compile cache, so
that no sequence of requests grows a worker without end."""

from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite

from app.core.database.base import StatementCache
from app.heroes import listing_sql
from app.heroes.cursors import Cursor
from app.heroes.listing import Filters, ListQuery, parse_sort


def query(**changes: object) -> ListQuery:
    base: dict[str, object] = {"filters": Filters(), "sort": parse_sort("-age,name")}
    return ListQuery(**(base | {"limit": 10} | changes))  # type: ignore[arg-type]  # a test's mix


def test_queries_that_differ_in_values_share_one_statement() -> None:
    first, first_params = listing_sql.page(query(filters=Filters(min_age=3), offset=0))
    second, second_params = listing_sql.page(query(filters=Filters(min_age=9), offset=20))

    assert first is second
    assert (first_params["min_age"], second_params["min_age"]) == (3, 9)


def test_queries_that_differ_in_shape_have_their_own_statements() -> None:
    shapes = [
        query(),
        query(filters=Filters(name="Deadpond")),
        query(sort=parse_sort("age")),
        query(cursor=Cursor((30, "x", 1))),
        query(cursor=Cursor((None, "x", 1))),
        query(cursor=Cursor((30, "x", 1), before=True)),
        query(extra=("created_at",)),
    ]

    statements = {id(listing_sql.page(shape)[0]) for shape in shapes}

    assert len(statements) == len(shapes)


def test_the_statement_cache_keeps_the_last_used_and_recompiles_the_rest() -> None:
    cache = StatementCache(sqlite.dialect(), max_size=3)
    statements = [select(text(str(number))) for number in range(5)]

    for statement in statements:
        cache.get(statement)
    cache.get(statements[2])  # used again: kept
    cache.get(statements[0])  # evicted: compiled again

    assert len(cache) == 3
    assert cache.get(statements[0]).sql == "SELECT 0"
    assert cache.get(statements[2]).sql == "SELECT 2"
