"""Revision 0006 (teams) on each backend: up, down and up again with heroes kept (with no
team), and the database itself refusing what the service must never store: a hero naming a
team that does not exist, two teams of one name, a team deleted under its heroes."""

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from app.db.migrator import downgrade, upgrade
from app.db.schema import database_revision
from tests.migrations.test_migrations import HERO_AT_FIRST_REVISION, OLD_ROWS

BEFORE_TEAMS = "0005"
TEAMS = "0006"


def hero_columns(engine: Engine) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns("hero")}


def heroes(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, name, age, secret_name FROM hero ORDER BY id"))
        return [tuple(row) for row in rows]


def old_heroes() -> list[tuple[object, ...]]:
    return [(row["id"], row["name"], row["age"], row["secret_name"]) for row in OLD_ROWS]


def add_team(engine: Engine, team_id: int, name: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO team (id, name, headquarters) VALUES (:id, :name, 'HQ')"),
            {"id": team_id, "name": name},
        )


def set_team(engine: Engine, hero_id: object, team_id: int | None) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE hero SET team_id = :team_id WHERE id = :id"),
            {"id": hero_id, "team_id": team_id},
        )


@pytest.fixture
def heroes_before_teams(scratch_engine: Engine) -> Engine:
    upgrade(scratch_engine, BEFORE_TEAMS)
    with scratch_engine.begin() as connection:
        connection.execute(HERO_AT_FIRST_REVISION.insert(), OLD_ROWS)
    return scratch_engine


def test_up_down_and_up_again_keeps_every_hero_with_no_team(heroes_before_teams: Engine) -> None:
    engine = heroes_before_teams

    upgrade(engine, TEAMS)
    assert database_revision(engine) == TEAMS
    assert "team" in inspect(engine).get_table_names()
    assert heroes(engine) == old_heroes()
    with engine.connect() as connection:
        teams_of_heroes = connection.execute(text("SELECT DISTINCT team_id FROM hero")).all()
    assert [tuple(row) for row in teams_of_heroes] == [(None,)]

    add_team(engine, 1, "Preventers")
    set_team(engine, OLD_ROWS[0]["id"], 1)
    downgrade(engine, BEFORE_TEAMS)
    assert database_revision(engine) == BEFORE_TEAMS
    assert "team" not in inspect(engine).get_table_names()
    assert "team_id" not in hero_columns(engine)
    assert heroes(engine) == old_heroes()

    upgrade(engine, TEAMS)
    assert "team_id" in hero_columns(engine)
    assert heroes(engine) == old_heroes()


def test_the_foreign_key_and_its_index_exist_by_name(scratch_engine: Engine) -> None:
    upgrade(scratch_engine, TEAMS)
    inspector = inspect(scratch_engine)

    (foreign_key,) = inspector.get_foreign_keys("hero")
    indexes = {index["name"]: index["column_names"] for index in inspector.get_indexes("hero")}
    uniques = {u["name"]: u["column_names"] for u in inspector.get_unique_constraints("team")}

    assert foreign_key["referred_table"] == "team"
    assert (foreign_key["constrained_columns"], foreign_key["referred_columns"]) == (
        ["team_id"],
        ["id"],
    )
    if scratch_engine.dialect.name != "sqlite":  # SQLite keeps a column's reference unnamed
        assert foreign_key["name"] == "fk_hero_team_id_team"
    assert indexes["ix_hero_team_id_id"] == ["team_id", "id"]
    assert uniques["uq_team_name"] == ["name"]


def test_the_database_refuses_a_hero_naming_a_team_that_does_not_exist(
    heroes_before_teams: Engine,
) -> None:
    engine = heroes_before_teams
    upgrade(engine, TEAMS)
    add_team(engine, 1, "Preventers")

    with pytest.raises(IntegrityError):
        set_team(engine, OLD_ROWS[0]["id"], 2)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text("INSERT INTO hero (name, secret_name, team_id) VALUES ('N', 's', 9000)")
        )

    set_team(engine, OLD_ROWS[0]["id"], 1)  # an existing team is fine
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("DELETE FROM team WHERE id = 1"))  # it has a hero
    assert heroes(engine) == old_heroes()


def test_the_database_refuses_two_teams_of_one_name(scratch_engine: Engine) -> None:
    upgrade(scratch_engine, TEAMS)
    add_team(scratch_engine, 1, "Preventers")
    add_team(scratch_engine, 2, "preventers")  # case counts
    add_team(scratch_engine, 3, "Preventers ")  # so do trailing spaces (no padding)

    with pytest.raises(IntegrityError):
        add_team(scratch_engine, 4, "Preventers")
