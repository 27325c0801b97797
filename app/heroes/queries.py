"""Every statement the hero service runs, built once in SQLAlchemy Core.

Values travel as bound parameters, never as SQL text. The names of the values an INSERT
or UPDATE sets start with `set_`: SQLAlchemy reserves a column's own name for itself.
The statements name the `Hero` entity, not just its table, so that a session that runs
them (a test's, through `get_session`) keeps the objects it holds in step.
"""

from functools import cache
from typing import Any

from sqlalchemy import Update, bindparam, delete, insert, select, update
from sqlmodel import col

from app.core.database import Columns
from app.heroes.models import Hero

hero_id = col(Hero.id)

STORED_COLUMNS: Columns = (  # type: ignore[assignment]  # col() is typed as Mapped
    hero_id,
    col(Hero.name),
    col(Hero.age),
    col(Hero.created_at),
    col(Hero.updated_at),
)
"""What the service reads of a hero (never its secret), in StoredHero's order."""

by_id = select(*STORED_COLUMNS).where(hero_id == bindparam("hero_id"))

page_by_id = (
    select(*STORED_COLUMNS).order_by(hero_id).offset(bindparam("offset")).limit(bindparam("limit"))
)

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
