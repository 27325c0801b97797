"""A plain Python model of the team list's rules, written apart from the service's code.

Given the teams stored and a request's query parameters (as strings), it answers the teams
the API should return, in order. The property tests hold the API to it.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlmodel import SQLModel

import app.heroes.models
import app.teams.models  # noqa: F401  # registers the team table

team_table = SQLModel.metadata.tables["team"]
hero_table = SQLModel.metadata.tables["hero"]


@dataclass(frozen=True)
class Stored:
    id: int
    name: str
    headquarters: str

    def body(self) -> dict[str, Any]:
        return {"name": self.name, "headquarters": self.headquarters, "id": self.id}


def store(engine: Engine, teams: Iterable[tuple[str, str]]) -> list[Stored]:
    """Insert teams in one statement (emptying the table first) and read back every row."""
    rows = [{"name": name, "headquarters": headquarters} for name, headquarters in teams]
    with engine.begin() as connection:
        connection.execute(update(hero_table).values(team_id=None))
        connection.execute(delete(team_table))
        if rows:
            connection.execute(insert(team_table), rows)
    columns = team_table.c
    with engine.connect() as connection:
        query = select(columns.id, columns.name, columns.headquarters).order_by(columns.id)
        result: Any = connection.execute(query)
        return [Stored(id_, name, headquarters) for id_, name, headquarters in result]


def ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def matches(team: Stored, params: Mapping[str, str]) -> bool:
    checks: dict[str, Callable[[str], bool]] = {
        "name": lambda value: team.name == value,
        "name_contains": lambda value: ascii_lower(value) in ascii_lower(team.name),
        "headquarters": lambda value: team.headquarters == value,
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


def ordered(teams: Sequence[Stored], sort: str | None) -> list[Stored]:
    result = list(teams)
    for name, descending in reversed(sort_keys(sort)):  # stable sorts, least key first
        result.sort(key=lambda team: getattr(team, name), reverse=descending)
    return result


def expected(teams: Sequence[Stored], params: Mapping[str, str]) -> list[Stored]:
    """Every team the filters let through, in the order asked for (no paging)."""
    return ordered([team for team in teams if matches(team, params)], params.get("sort"))


def bodies(teams: Iterable[Stored]) -> list[dict[str, Any]]:
    return [team.body() for team in teams]
