"""Migrations on each backend: up and down, data kept, and models and migrations agreeing."""

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, inspect, text
from sqlalchemy import table as table_clause
from sqlalchemy.sql import column
from sqlmodel import Session, col, select

from app.db.migrator import alembic_config, downgrade, head_revision, upgrade
from app.db.schema import FIRST_REVISION, database_revision
from app.heroes.models import Hero
from app.kit.changes.models import compared_on

# Rows as a database at the first revision holds them: every kind of value the API accepts.
OLD_ROWS = [
    {"id": 1, "name": "Deadpond", "age": None, "secret_name": "Dive Wilson"},
    {"id": 2, "name": "Rusty-Man", "age": 48, "secret_name": "Tommy Sharp"},
    {"id": 3, "name": "Spider-Boy 🕷", "age": 0, "secret_name": "Pedro Parqueador"},
    {"id": 4, "name": "مرحبا", "age": 2**31 - 1, "secret_name": "'; DROP TABLE hero; --"},
    {"id": 2**40, "name": "x" * 255, "age": 30, "secret_name": "y" * 255},
]
HERO_AT_FIRST_REVISION = table_clause(
    "hero", *(column(name) for name in ("id", "name", "age", "secret_name"))
)


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def stored_heroes(engine: Engine) -> list[Hero]:
    with Session(engine) as session:
        return list(session.exec(select(Hero).order_by(col(Hero.id))))


def test_upgrade_from_empty_to_head_downgrade_to_base_and_upgrade_again(
    scratch_engine: Engine,
) -> None:
    assert table_names(scratch_engine) == set()

    assert upgrade(scratch_engine) == (None, head_revision())
    assert table_names(scratch_engine) == {
        "hero",
        "team",
        "user",
        "refresh_token",
        "idempotency_key",
        "change_log",
        "change_clock",
        "alembic_version",
    }
    assert database_revision(scratch_engine) == head_revision()

    assert downgrade(scratch_engine, "base") == (head_revision(), None)
    assert "hero" not in table_names(scratch_engine)
    assert database_revision(scratch_engine) is None

    assert upgrade(scratch_engine) == (None, head_revision())
    assert "created_at" in {c["name"] for c in inspect(scratch_engine).get_columns("hero")}


def test_rows_stored_at_the_first_revision_upgrade_unchanged_with_timestamps(
    scratch_engine: Engine,
) -> None:
    upgrade(scratch_engine, FIRST_REVISION)
    with scratch_engine.begin() as connection:
        connection.execute(HERO_AT_FIRST_REVISION.insert(), OLD_ROWS)
    before = datetime.now(UTC)

    upgrade(scratch_engine)

    heroes = stored_heroes(scratch_engine)
    assert [hero.model_dump(include=set(OLD_ROWS[0])) for hero in heroes] == OLD_ROWS
    for hero in heroes:
        assert hero.created_at.tzinfo is UTC
        assert hero.created_at == hero.updated_at
        assert before - timedelta(seconds=1) <= hero.created_at <= datetime.now(UTC)


def test_rows_survive_a_downgrade_to_the_first_revision(scratch_engine: Engine) -> None:
    upgrade(scratch_engine, FIRST_REVISION)
    with scratch_engine.begin() as connection:
        connection.execute(HERO_AT_FIRST_REVISION.insert(), OLD_ROWS)
    upgrade(scratch_engine)

    downgrade(scratch_engine, FIRST_REVISION)

    with scratch_engine.connect() as connection:
        rows = connection.execute(HERO_AT_FIRST_REVISION.select().order_by(text("id")))
        assert [row._asdict() for row in rows] == OLD_ROWS
    assert "created_at" not in {c["name"] for c in inspect(scratch_engine).get_columns("hero")}


def test_new_heroes_get_timestamps_and_fresh_ids_after_the_upgrade(
    scratch_engine: Engine,
) -> None:
    upgrade(scratch_engine, FIRST_REVISION)
    without_ids = [{k: v for k, v in row.items() if k != "id"} for row in OLD_ROWS[:2]]
    with scratch_engine.begin() as connection:
        connection.execute(HERO_AT_FIRST_REVISION.insert(), without_ids)
        latest: int = connection.execute(text("SELECT max(id) FROM hero")).scalar_one()
        connection.execute(HERO_AT_FIRST_REVISION.delete().where(text(f"id = {latest}")))
    upgrade(scratch_engine)

    with Session(scratch_engine, expire_on_commit=False) as session:
        hero = Hero(name="New", secret_name="n")
        session.add(hero)
        session.commit()

    assert hero.id is not None
    assert hero.id > latest  # the deleted hero's id is not handed out again (SQLite too)
    (stored,) = [h for h in stored_heroes(scratch_engine) if h.id == hero.id]
    assert stored.created_at == hero.created_at
    assert stored.updated_at == hero.updated_at


def test_rows_written_without_timestamps_get_the_databases_default(
    scratch_engine: Engine,
) -> None:
    upgrade(scratch_engine)
    with scratch_engine.begin() as connection:
        connection.execute(HERO_AT_FIRST_REVISION.insert(), OLD_ROWS[:1])

    (hero,) = stored_heroes(scratch_engine)

    assert hero.created_at.tzinfo is UTC
    assert abs(hero.created_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_timestamps_read_back_as_the_same_utc_instant(scratch_engine: Engine) -> None:
    upgrade(scratch_engine)
    paris = timezone(timedelta(hours=2))
    written = datetime(2026, 7, 14, 12, 30, 45, 123456, tzinfo=paris)
    with Session(scratch_engine) as session:
        session.add(Hero(name="A", secret_name="a", created_at=written, updated_at=written))
        session.commit()

    (hero,) = stored_heroes(scratch_engine)

    assert hero.created_at == written
    assert hero.created_at.tzinfo is UTC
    assert hero.created_at.isoformat() == "2026-07-14T10:30:45.123456+00:00"


def test_models_and_migrations_agree(scratch_engine: Engine) -> None:
    """`alembic check`: fails the suite when a model changes without a migration."""
    upgrade(scratch_engine)

    with scratch_engine.connect() as connection:
        command.check(alembic_config(connection))


def test_the_agreement_check_sees_a_change_without_a_migration(scratch_engine: Engine) -> None:
    upgrade(scratch_engine)
    drifted = MetaData(naming_convention=Hero.metadata.naming_convention)
    for table in Hero.metadata.sorted_tables:  # the hero's foreign keys need their tables
        table.to_metadata(drifted)
    hero = drifted.tables["hero"]
    hero.append_column(Column("power", Integer))

    with scratch_engine.connect() as connection:
        compared = compared_on(connection.dialect.name)
        options = {"compare_type": True, "include_object": compared}
        context = MigrationContext.configure(connection, opts=options)
        differences = compare_metadata(context, drifted)

    assert [difference[0] for difference in differences] == ["add_column"]


def test_schema_has_the_stable_names_and_table_options(scratch_engine: Engine) -> None:
    upgrade(scratch_engine)
    schema = inspect(scratch_engine)

    assert {index["name"] for index in schema.get_indexes("hero")} == {
        "ix_hero_name_id",
        "ix_hero_age_id",
        "ix_hero_owner_id",
        "ix_hero_team_id_id",
    }
    backend = scratch_engine.dialect.name
    with scratch_engine.connect() as connection:
        if backend == "sqlite":
            sql = connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'hero'"))
            assert "AUTOINCREMENT" in sql.scalar_one()
        elif backend == "postgresql":
            assert schema.get_pk_constraint("hero")["name"] == "pk_hero"
        else:
            assert mariadb_collation(scratch_engine) == "utf8mb4_bin"


def mariadb_collation(engine: Engine) -> str:
    with engine.connect() as connection:
        collation: str = connection.execute(
            text(
                "SELECT table_collation FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = 'hero'"
            )
        ).scalar_one()
        return collation


def test_a_table_made_before_migrations_is_adopted_and_upgraded(scratch_engine: Engine) -> None:
    # What `create_all` left in a database before this release: the table, no version,
    # and on MariaDB the database's default collation.
    upgrade(scratch_engine, FIRST_REVISION)
    mariadb = scratch_engine.dialect.name == "mariadb"
    with scratch_engine.begin() as connection:
        connection.execute(HERO_AT_FIRST_REVISION.insert(), OLD_ROWS)
        connection.execute(text("DROP TABLE alembic_version"))
        if mariadb:
            connection.execute(
                text(
                    "ALTER TABLE hero CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
                )
            )

    assert upgrade(scratch_engine) == (FIRST_REVISION, head_revision())

    heroes = stored_heroes(scratch_engine)
    assert [hero.model_dump(include=set(OLD_ROWS[0])) for hero in heroes] == OLD_ROWS
    if mariadb:
        assert mariadb_collation(scratch_engine) == "utf8mb4_bin"


def test_workers_migrating_at_once_take_turns(scratch_engine: Engine) -> None:
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(scratch_engine)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    workers = [threading.Thread(target=migrate) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert errors == []
    assert database_revision(scratch_engine) == head_revision()


@pytest.mark.parametrize("revision", ["nope", "0999"])
def test_an_unknown_revision_is_refused_and_changes_nothing(
    scratch_engine: Engine, revision: str
) -> None:
    upgrade(scratch_engine)

    with pytest.raises(Exception, match="Can't locate revision") as raised:
        upgrade(scratch_engine, revision)

    assert type(raised.value).__name__ == "CommandError"
    assert database_revision(scratch_engine) == head_revision()


def test_changes_recorded_before_0010_keep_their_positions_and_new_ones_follow(
    scratch_engine: Engine,
) -> None:
    upgrade(scratch_engine, "0009")
    recorded = [change_at_0009(position) for position in (3, 7)]
    with scratch_engine.begin() as connection:
        connection.execute(text(CHANGE_INSERT_0009), recorded)

    upgrade(scratch_engine)
    with scratch_engine.begin() as connection:
        connection.execute(text(CHANGE_INSERT_0010), change_at_0009(0))
        rows = connection.execute(text("SELECT seq, position FROM change_log ORDER BY seq"))
        assert [tuple(row) for row in rows] == [(3, 3), (7, 7), (8, None)]

    downgrade(scratch_engine, "0009")  # an unnumbered change does not survive it
    with scratch_engine.connect() as connection:
        positions = connection.execute(text("SELECT position FROM change_log ORDER BY position"))
        assert [row[0] for row in positions] == [3, 7]


_CHANGE_COLUMNS = "resource, row_id, version, op, data, changed, changed_at"
CHANGE_INSERT_0009 = (
    f"INSERT INTO change_log (position, {_CHANGE_COLUMNS}) "  # noqa: S608  # names above
    "VALUES (:position, :resource, :row_id, :version, :op, :data, :changed, :changed_at)"
)
CHANGE_INSERT_0010 = (
    f"INSERT INTO change_log ({_CHANGE_COLUMNS}) "  # noqa: S608  # names above
    "VALUES (:resource, :row_id, :version, :op, :data, :changed, :changed_at)"
)


def change_at_0009(position: int) -> dict[str, object]:
    return {
        "position": position,
        "resource": "heroes",
        "row_id": position + 100,
        "version": 1,
        "op": "create",
        "data": "{}",
        "changed": "[]",
        "changed_at": datetime(2026, 12, 7, tzinfo=UTC),
    }
