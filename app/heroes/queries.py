"""Every statement the hero service runs, built once in SQLAlchemy Core.

Values travel as bound parameters, never as SQL text. The names of the values an INSERT
or UPDATE sets start with `set_`: SQLAlchemy reserves a column's own name for itself.
The statements name the `Hero` entity, not just its table, so that a session that runs
them (a test's, through `get_session`) keeps the objects it holds in step.
"""

from functools import cache
from typing import Any

from sqlalchemy import Select, Update, bindparam, delete, insert, select, update
from sqlmodel import col

from app.core.database import Columns
from app.heroes.models import Hero

hero_id = col(Hero.id)

SUMMARY_COLUMNS: Columns = (hero_id, col(Hero.name), col(Hero.age))  # type: ignore[assignment]  # col() is typed as Mapped
STORED_COLUMNS: Columns = (*SUMMARY_COLUMNS, col(Hero.created_at), col(Hero.updated_at))  # type: ignore[arg-type]  # as above
"""What the service reads of a hero (never its secret), in HeroSummary's and StoredHero's
order. Pages read timestamps only when asked: parsing them costs more than the query."""

by_id = select(*STORED_COLUMNS).where(hero_id == bindparam("hero_id"))


def _page(columns: Columns) -> Select[Any]:
    return select(*columns).order_by(hero_id).offset(bindparam("offset")).limit(bindparam("limit"))


page_by_id = _page(SUMMARY_COLUMNS)
page_by_id_with_timestamps = _page(STORED_COLUMNS)

insert_hero = (
    insert(Hero)
    .values(
        name=bindparam("set_name"),
        secret_name=bindparam("set_secret_name"),
        age=bindparam("set_age"),
        created_at=bindparam("set_created_at"),
        updated_at=bindparam("set_updated_at"),
    )
    .returning(hero_id)
)

delete_by_id = delete(Hero).where(hero_id == bindparam("hero_id"))

UPDATABLE = frozenset({"name", "secret_name", "age"})


@cache
def update_by_id(fields: frozenset[str]) -> Update:
    """The UPDATE that sets exactly `fields`, and `updated_at` (one statement per set of
    fields, at most 7)."""
    assert fields <= UPDATABLE  # noqa: S101
    values: dict[str, Any] = {field: bindparam(f"set_{field}") for field in sorted(fields)}
    values["updated_at"] = bindparam("set_updated_at")
    return update(Hero).where(hero_id == bindparam("hero_id")).values(values)
