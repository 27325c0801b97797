"""The data-access contract: run a prepared statement, get plain rows back.

Statements are written once, in SQLAlchemy Core, by the domain or kit that owns them
(`app/db/statements.py`). Each backend runs them the cheapest way that is still safe for it
(`app/db/backends.py`). No ORM session or identity map is involved per request:
bench/PROFILE.md measured those as most of a request's cost.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from app.db.statements import Params, Row, Statement

Columns = tuple[ColumnElement[Any], ...]

__all__ = ["Columns", "Database", "Params", "PoolUsage", "Row", "Statement"]


@dataclass(frozen=True, slots=True)
class PoolUsage:
    in_use: int  # connections (or SQLite's writer) busy with a statement now
    waiting: int  # requests queued for one


class Database(ABC):
    """One database as the service sees it. Every method is one statement, committed alone
    (or one transaction where a backend needs two statements), and raises
    `DatabaseUnavailable` when the database cannot be reached or does not answer in time."""

    @abstractmethod
    async def fetch_one(self, query: Statement, params: Params) -> Row | None:
        """The first row of a query, or None."""

    @abstractmethod
    async def fetch_all(self, query: Statement, params: Params) -> list[Row]:
        """Every row of a query."""

    @abstractmethod
    async def write(self, statement: Statement, params: Params) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it matched."""

    @abstractmethod
    async def write_returning(self, statement: Statement, params: Params) -> Row | None:
        """Run an INSERT or DELETE that has a RETURNING clause; the row it returned."""

    @abstractmethod
    async def update_returning(
        self, statement: Statement, reread: Statement, params: Params
    ) -> Row | None:
        """Run an UPDATE of one row and return that row as `reread` selects it by its key,
        as of that change (None if the UPDATE matched no row). Atomic on every backend:
        where UPDATE has RETURNING, `reread`'s columns are returned; elsewhere (MariaDB)
        `reread` runs after the UPDATE, in its transaction, under its row lock."""

    @abstractmethod
    def pool_usage(self) -> PoolUsage:
        """How busy this worker's connections are, for /metrics."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close every connection this object holds (it may open new ones if used again)."""
