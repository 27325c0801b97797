"""Migration 0005: names compare by code point everywhere, and the list's indexes."""

from sqlalchemy import Engine, insert, inspect, select, text

from app.db.migrator import downgrade, upgrade
from tests.heroes.listing_model import hero_table

# Code point order, which binary, "C" and NO PAD collations agree on; PAD SPACE would
# make "a" equal "a " and sort "a\t" first.
NAMES_IN_ORDER = ["B", "a", "a\t", "a ", "b", "é", "🦸"]


def index_names(engine: Engine) -> set[str]:
    return {index["name"] or "" for index in inspect(engine).get_indexes("hero")}


def store_names(engine: Engine) -> None:
    rows = [{"name": name, "secret_name": "s"} for name in reversed(NAMES_IN_ORDER)]
    with engine.begin() as connection:
        connection.execute(insert(hero_table), rows)


def test_upgrade_orders_and_matches_names_by_code_point(scratch_engine: Engine) -> None:
    upgrade(scratch_engine, "0005")
    store_names(scratch_engine)
    name = hero_table.c.name

    with scratch_engine.connect() as connection:
        ordered: list[str] = list(connection.execute(select(name).order_by(name)).scalars())
        exact: list[str] = list(connection.execute(select(name).where(name == "a")).scalars())

    assert ordered == NAMES_IN_ORDER
    assert exact == ["a"]
    assert index_names(scratch_engine) == {"ix_hero_name_id", "ix_hero_age_id"}


def test_downgrade_restores_the_single_column_indexes_and_keeps_rows(
    scratch_engine: Engine,
) -> None:
    upgrade(scratch_engine, "0005")
    store_names(scratch_engine)

    downgrade(scratch_engine, "0004")

    assert index_names(scratch_engine) == {"ix_hero_name", "ix_hero_age"}
    with scratch_engine.connect() as connection:
        count: int = connection.execute(text("SELECT COUNT(*) FROM hero")).scalar_one()
    assert count == len(NAMES_IN_ORDER)
    upgrade(scratch_engine, "0005")
    assert index_names(scratch_engine) == {"ix_hero_name_id", "ix_hero_age_id"}
