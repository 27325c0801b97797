"""A plain Python model of the list's rules, written apart from the service's code.

Given the heroes stored and a request's query parameters (as strings), it answers the
heroes the API should return, in order. The property tests hold the API to it.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlmodel import SQLModel

import app.heroes.models  # noqa: F401  # registers the hero table

hero_table = SQLModel.metadata.tables["hero"]


@dataclass(frozen=True)
class Stored:
    id: int
    name: str
    age: int | None

    def body(self) -> dict[str, Any]:
        return {"name": self.name, "age": self.age, "id": self.id}


def store(
    engine: Engine, heroes: Iterable[tuple[str, int | None]], *, empty: bool = True
) -> list[Stored]:
    """Insert heroes in one statement (emptying the table first) and read back every row."""
    rows = [{"name": name, "age": age, "secret_name": "secret"} for name, age in heroes]
    with engine.begin() as connection:
        if empty:
            connection.execute(delete(hero_table))
        if rows:
            connection.execute(insert(hero_table), rows)
    return stored(engine)


def stored(engine: Engine) -> list[Stored]:
    columns = hero_table.c
    with engine.connect() as connection:
        query = select(columns.id, columns.name, columns.age).order_by(columns.id)
        result: Any = connection.execute(query)  # rows of (int, str, int | None)
        return [Stored(id_, name, age) for id_, name, age in result]


def ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def matches(hero: Stored, params: Mapping[str, str]) -> bool:
    checks: dict[str, Callable[[str], bool]] = {
        "name": lambda value: hero.name == value,
        "name_contains": lambda value: ascii_lower(value) in ascii_lower(hero.name),
        "age": lambda value: hero.age == int(value),
        "min_age": lambda value: hero.age is not None and hero.age >= int(value),
        "max_age": lambda value: hero.age is not None and hero.age <= int(value),
        "has_age": lambda value: (hero.age is not None) == (value == "true"),
    }
    return all(check(params[name]) for name, check in checks.items() if name in params)


def sort_keys(sort: str | None) -> list[tuple[str, bool]]:
    """(key, descending) pairs, id last: after the last key given, in its direction."""
    if not sort:
        return [("id", False)]
    keys = [(item.lstrip("-"), item.startswith("-")) for item in sort.split(",")]
    if "id" not in [key for key, _ in keys]:
        keys.append(("id", keys[-1][1]))
    return keys


def _key(name: str) -> Callable[[Stored], Any]:
    if name == "age":  # no age sorts as larger than every age
        return lambda hero: (hero.age is None, hero.age or 0)
    return lambda hero: getattr(hero, name)


def ordered(heroes: Sequence[Stored], sort: str | None) -> list[Stored]:
    result = list(heroes)
    for name, descending in reversed(sort_keys(sort)):  # stable sorts, least key first
        result.sort(key=_key(name), reverse=descending)
    return result


def expected(heroes: Sequence[Stored], params: Mapping[str, str]) -> list[Stored]:
    """Every hero the filters let through, in the order asked for (no paging)."""
    return ordered([hero for hero in heroes if matches(hero, params)], params.get("sort"))


def bodies(heroes: Iterable[Stored]) -> list[dict[str, Any]]:
    return [hero.body() for hero in heroes]
