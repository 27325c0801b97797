"""Every statement the hero service runs on one hero, built once in SQLAlchemy Core (the
list's, one per shape of query, are in `listing_sql`).

Values travel as bound parameters, never as SQL text. The names of the values an INSERT
or UPDATE sets start with `set_`: SQLAlchemy reserves a column's own name for itself.
The statements name the `Hero` entity, not just its table, so that a session that runs
them (a test's, through `get_session`) keeps the objects it holds in step.
"""

from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Delete,
    Update,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlmodel import col

from app.core.database import Columns
from app.heroes.models import Hero

hero_id = col(Hero.id)

SUMMARY_COLUMNS: Columns = (hero_id, col(Hero.name), col(Hero.age))  # type: ignore[assignment]  # col() is typed as Mapped
hero_version = col(Hero.version)
STORED_COLUMNS: Columns = (
    *SUMMARY_COLUMNS,
    col(Hero.created_at),  # type: ignore[arg-type]  # as above
    col(Hero.updated_at),  # type: ignore[arg-type]
    hero_version,  # type: ignore[arg-type]
)
"""What the service reads of a hero (never its secret), in HeroSummary's and StoredHero's
order. Pages read timestamps only when asked: parsing them costs more than the query."""

by_id = select(*STORED_COLUMNS).where(hero_id == bindparam("hero_id"))


insert_hero = (
    insert(Hero)
    .values(
        name=bindparam("set_name"),
        secret_name=bindparam("set_secret_name"),
        age=bindparam("set_age"),
        created_at=bindparam("set_created_at"),
        updated_at=bindparam("set_updated_at"),
        version=1,
    )
    .returning(hero_id)
)

delete_by_id = delete(Hero).where(hero_id == bindparam("hero_id"))

UPDATABLE = frozenset({"name", "secret_name", "age"})


def version_slots(versions: int) -> int:
    """How many version parameters a conditional statement takes for `versions` expected
    ones: the next power of two, so that a handful of statements serves any If-Match."""
    return 1 << (versions - 1).bit_length() if versions else 0


def version_params(versions: frozenset[int]) -> dict[str, int]:
    """`versions` as the parameters of `version_slots(len(versions))` slots (the last one
    repeated to fill them)."""
    ordered = sorted(versions)
    slots = version_slots(len(ordered))
    return {
        f"expected_version_{slot}": ordered[min(slot, len(ordered) - 1)] for slot in range(slots)
    }


def _version_is_one_of(slots: int) -> ColumnElement[bool]:
    return hero_version.in_([bindparam(f"expected_version_{slot}") for slot in range(slots)])


@cache
def update_by_id(fields: frozenset[str], version_slots: int = 0) -> Update:
    """The UPDATE that sets exactly `fields`, moves `updated_at` and bumps the version;
    with `version_slots`, only if the version is one of those parameters' (compare and set
    in one statement). One statement per shape: at most 7 sets of fields times a few slots.
    """
    assert fields <= UPDATABLE  # noqa: S101
    values: dict[str, Any] = {field: bindparam(f"set_{field}") for field in sorted(fields)}
    values["updated_at"] = bindparam("set_updated_at")
    values["version"] = hero_version + 1
    statement = update(Hero).where(hero_id == bindparam("hero_id")).values(values)
    return statement.where(_version_is_one_of(version_slots)) if version_slots else statement


@cache
def delete_by_id_if_version(version_slots: int) -> Delete:
    """The DELETE that removes the hero only if its version is one of the slots'."""
    return delete_by_id.where(_version_is_one_of(version_slots))
