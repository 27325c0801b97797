"""The list's statements: one object per shape of query, and one bounded cache, so that no
sequence of requests grows a worker without end."""

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite
from starlette.datastructures import QueryParams

from app.db.statements import StatementCache
from app.heroes.resource import HEROES, HEROES_LIST
from app.kit.listing import sql
from app.kit.listing.cursors import Cursor, codec
from app.kit.listing.query import ListQuery


def query(params: str = "sort=-age,name", **changes: object) -> ListQuery:
    parsed = HEROES_LIST.query(QueryParams(params), None, codec(None))
    for name, value in changes.items():
        object.__setattr__(parsed, name, value)
    return parsed


def test_queries_that_differ_in_values_share_one_statement() -> None:
    first, first_params = sql.page(HEROES, query("min_age=3&offset=0"))
    second, second_params = sql.page(HEROES, query("min_age=9&offset=20"))

    assert first is second
    assert (first_params["min_age"], second_params["min_age"]) == (3, 9)


def test_queries_that_differ_in_shape_have_their_own_statements() -> None:
    shapes = [
        query(),
        query("sort=-age,name&name=Deadpond"),
        query("sort=age"),
        query(cursor=Cursor((30, "x", 1))),
        query(cursor=Cursor((None, "x", 1))),
        query(cursor=Cursor((30, "x", 1), before=True)),
        query("sort=-age,name&fields=created_at"),
    ]

    statements = {id(sql.page(HEROES, shape)[0]) for shape in shapes}

    assert len(statements) == len(shapes)


def test_equal_filters_spelt_differently_share_a_statement_and_a_cursor() -> None:
    exact = query("age=30")
    bounds = query("min_age=30&max_age=30&has_age=true")

    assert exact == bounds
    assert sql.page(HEROES, exact)[0] is sql.page(HEROES, bounds)[0]


def test_the_statement_cache_keeps_the_last_used_and_rebuilds_the_rest() -> None:
    cache = StatementCache(max_size=3)
    built: list[int] = []

    def get(number: int) -> str:
        def build() -> Any:
            built.append(number)
            return select(text(str(number)))

        return cache.get(number, build).compiled(sqlite.dialect()).sql

    for number in range(5):
        get(number)
    get(2)  # used again: kept
    get(0)  # evicted: built again

    assert len(cache) == 3
    assert get(0) == "SELECT 0"
    assert get(2) == "SELECT 2"
    assert built == [0, 1, 2, 3, 4, 0]
