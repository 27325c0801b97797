"""The database layer's transactions and constraint refusals, below the HTTP layer, on every
backend: `Database.transaction(steps)` runs its steps in order on one connection and keeps
all or nothing; `ConstraintViolation` names the kind and the constraint that refused a write,
from the service's own `Database` and from one made of a tutorial-style session."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, bindparam, delete, func, insert, select, update
from sqlmodel import Session, SQLModel

from app.config import Settings, load_settings
from app.db import Database, backend_for
from app.db.backends import create_db_engine
from app.db.database import Step, StepMissed
from app.db.errors import ConstraintViolation
from app.db.migrator import upgrade
from app.db.postgres import PostgresDatabase
from app.db.statements import Statement
from app.db.tables import utc_now
from app.db.threaded import EngineDatabase
from tests.conftest import empty_tables, reachable_server_url

T = TypeVar("T")
team = SQLModel.metadata.tables["team"]
hero = SQLModel.metadata.tables["hero"]

# Every column given: run by a raw driver, a statement gets no Python-side defaults.
STAMPS = {"created_at": utc_now(), "updated_at": utc_now(), "version": 1}
NEW_TEAM = Statement(
    insert(team)
    .values(name=bindparam("name"), headquarters=bindparam("headquarters"), **STAMPS)
    .returning(team.c.id)
)
NEW_HERO = Statement(
    insert(hero)
    .values(name=bindparam("name"), secret_name="s", team_id=bindparam("team_id"), **STAMPS)
    .returning(hero.c.id, hero.c.team_id)
)
RENAME_TEAM = Statement(
    update(team).where(team.c.id == bindparam("team_id")).values(name=bindparam("name"))
)
DELETE_TEAM = Statement(delete(team).where(team.c.id == bindparam("team_id")))
COUNT_TEAMS = Statement(select(func.count()).select_from(team))
TEAM_NAMES = Statement(select(team.c.name).order_by(team.c.id))
BACKEND_PID = Statement(select(func.pg_backend_pid()))


def named(name: str) -> dict[str, str]:
    return {"name": name, "headquarters": "Tower"}


def run(settings: Settings, engine: Engine, work: Callable[[Database], Awaitable[T]]) -> T:
    """`work` on a Database of the service's own kind for this backend, on a loop of its own."""

    async def main() -> T:
        database = backend_for(settings).create_database(engine)
        try:
            return await work(database)
        finally:
            await database.aclose()

    return asyncio.run(main())


def names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(team.c.name).order_by(team.c.id)).scalars())


def foreign_key_name(engine: Engine) -> str | None:
    """SQLite does not say which foreign key refused a write; the servers do."""
    return None if engine.dialect.name == "sqlite" else "fk_hero_team_id_team"


# --- steps ---------------------------------------------------------------------------------


def test_steps_run_in_order_each_with_params_from_the_results_before_it(
    settings: Settings, clean_db: Engine
) -> None:
    steps = [
        Step.row(NEW_TEAM, named("Preventers")),
        Step.row(NEW_HERO, lambda results: {"name": "Rusty", "team_id": results[0][0]}),
        Step.count(RENAME_TEAM, lambda results: {"team_id": results[1][1], "name": "Renamed"}),
        Step.rows(TEAM_NAMES, {}),
    ]

    results = run(settings, clean_db, lambda database: database.transaction(steps))

    team_id = results[0][0]
    assert results[1][1] == team_id
    assert results[2] == 1
    assert results[3] == [("Renamed",)]
    assert names(clean_db) == ["Renamed"]


def test_a_step_whose_params_are_none_is_skipped(settings: Settings, clean_db: Engine) -> None:
    steps = [
        Step.row(NEW_TEAM, named("A")),
        Step.count(RENAME_TEAM, lambda _results: None, required=True),
        Step.row(NEW_TEAM, lambda results: named("B") if results[1] is None else None),
    ]

    results = run(settings, clean_db, lambda database: database.transaction(steps))

    assert results[1] is None
    assert results[2] is not None
    assert names(clean_db) == ["A", "B"]


MISSES = {
    "count": Step.count(RENAME_TEAM, {"team_id": -1, "name": "X"}, required=True),
    "row": Step.row(Statement(select(team.c.id).where(team.c.id == -1)), {}, required=True),
}


@pytest.mark.parametrize("missing", list(MISSES))
def test_a_required_step_that_matches_nothing_rolls_everything_back(
    settings: Settings, clean_db: Engine, missing: str
) -> None:
    steps = [Step.row(NEW_TEAM, named("A")), Step.row(NEW_TEAM, named("B")), MISSES[missing]]

    with pytest.raises(StepMissed) as raised:
        run(settings, clean_db, lambda database: database.transaction(steps))

    assert raised.value.step == 2
    assert len(raised.value.results) == 2  # the results of the steps before it
    assert names(clean_db) == []


def test_a_database_keeps_working_after_a_missed_step(
    settings: Settings, clean_db: Engine
) -> None:
    async def work(database: Database) -> Any:
        missed = [
            Step.row(NEW_TEAM, named("A")),
            Step.count(DELETE_TEAM, {"team_id": -1}, required=True),
        ]
        with pytest.raises(StepMissed):
            await database.transaction(missed)
        await database.transaction([Step.row(NEW_TEAM, named("A"))])
        return await database.fetch_one(COUNT_TEAMS, {})

    assert run(settings, clean_db, work) == (1,)


# --- constraint violations -----------------------------------------------------------------


def test_a_duplicate_team_name_is_a_unique_violation_named_uq_team_name(
    settings: Settings, clean_db: Engine
) -> None:
    async def work(database: Database) -> list[ConstraintViolation]:
        await database.write_returning(NEW_TEAM, named("Taken"))
        refusals = []
        for attempt in (
            lambda: database.write_returning(NEW_TEAM, named("Taken")),
            lambda: database.transaction(
                [Step.row(NEW_TEAM, named("Other")), Step.row(NEW_TEAM, named("Taken"))]
            ),
        ):
            with pytest.raises(ConstraintViolation) as raised:
                await attempt()
            refusals.append(raised.value)
        return refusals

    refusals = run(settings, clean_db, work)

    assert [(r.kind, r.constraint) for r in refusals] == [("unique", "uq_team_name")] * 2
    assert names(clean_db) == ["Taken"]  # "Other" went with its transaction


def test_a_missing_team_is_a_foreign_key_violation(settings: Settings, clean_db: Engine) -> None:
    async def work(database: Database) -> list[ConstraintViolation]:
        refusals = []
        for attempt in (
            lambda: database.write_returning(NEW_HERO, {"name": "Lost", "team_id": 9000}),
            lambda: database.transaction(
                [
                    Step.row(NEW_TEAM, named("Kept?")),
                    Step.row(NEW_HERO, {"name": "Lost", "team_id": 9000}),
                ]
            ),
        ):
            with pytest.raises(ConstraintViolation) as raised:
                await attempt()
            refusals.append(raised.value)
        return refusals

    refusals = run(settings, clean_db, work)

    expected = ("foreign_key", foreign_key_name(clean_db))
    assert [(r.kind, r.constraint) for r in refusals] == [expected] * 2
    assert names(clean_db) == []


def test_a_team_with_heroes_cannot_be_deleted_without_releasing_them(
    settings: Settings, clean_db: Engine
) -> None:
    """No ON DELETE action: a deletion that missed a hero fails loudly."""

    async def work(database: Database) -> ConstraintViolation:
        (team_id,) = await database.write_returning(NEW_TEAM, named("Held")) or (None,)
        await database.write_returning(NEW_HERO, {"name": "Member", "team_id": team_id})
        with pytest.raises(ConstraintViolation) as raised:
            await database.write(DELETE_TEAM, {"team_id": team_id})
        return raised.value

    refusal = run(settings, clean_db, work)

    assert (refusal.kind, refusal.constraint) == ("foreign_key", foreign_key_name(clean_db))
    assert names(clean_db) == ["Held"]


def test_a_tutorial_session_reports_the_same_violations(clean_db: Engine) -> None:
    """The path of a test that overrides `get_session` (tests/test_tutorial_override.py)."""
    with Session(clean_db) as session:
        database = EngineDatabase.of_session(session)

        async def work() -> list[ConstraintViolation]:
            await database.write_returning(NEW_TEAM, named("Taken"))
            refusals = []
            for attempt in (
                lambda: database.write_returning(NEW_TEAM, named("Taken")),
                lambda: database.transaction(
                    [Step.row(NEW_HERO, {"name": "Lost", "team_id": 9000})]
                ),
            ):
                with pytest.raises(ConstraintViolation) as raised:
                    await attempt()
                refusals.append(raised.value)
            await database.write_returning(NEW_TEAM, named("After"))  # the session still works
            return refusals

        refusals = asyncio.run(work())

    assert [(r.kind, r.constraint) for r in refusals] == [
        ("unique", "uq_team_name"),
        ("foreign_key", foreign_key_name(clean_db)),
    ]
    assert names(clean_db) == ["Taken", "After"]


def test_a_postgres_connection_is_reused_after_a_constraint_violation() -> None:
    """The pool under test is PostgreSQL's own (app/db/pool.py): a refusal by a constraint
    leaves the connection ready for the next statement, so it goes back to the pool."""
    settings = load_settings(database_url=reachable_server_url("postgresql"), environment="test")
    engine = create_db_engine(settings)
    upgrade(engine)
    empty_tables(engine)

    async def work(database: Database) -> tuple[Any, Any, int]:
        assert isinstance(database, PostgresDatabase)
        first = await database.fetch_one(BACKEND_PID, {})
        await database.write_returning(NEW_TEAM, named("Taken"))
        with pytest.raises(ConstraintViolation):
            await database.write_returning(NEW_TEAM, named("Taken"))
        with pytest.raises(ConstraintViolation):
            await database.transaction([Step.row(NEW_TEAM, named("Taken"))])
        return first, await database.fetch_one(BACKEND_PID, {}), database.pool.idle

    try:
        before, after, idle = run(settings, engine, work)
    finally:
        empty_tables(engine)
        engine.dispose()

    assert after == before  # the same server process: the connection was kept
    assert idle == 1


# --- refusable steps -----------------------------------------------------------------------


def refusable(step: Step) -> Step:
    return replace(step, refusable=True)


REFUSED_ALONE = [
    Step.row(NEW_TEAM, named("A")),
    refusable(Step.row(NEW_TEAM, named("A"))),
    refusable(Step.row(NEW_HERO, {"name": "Lost", "team_id": 9000})),
    Step.row(NEW_TEAM, named("B")),
    refusable(Step.row(NEW_TEAM, named("C"))),
]


def assert_refused_alone(results: list[Any], engine: Engine) -> None:
    unique, foreign_key = results[1], results[2]
    assert isinstance(unique, ConstraintViolation)
    assert (unique.kind, unique.constraint) == ("unique", "uq_team_name")
    assert isinstance(foreign_key, ConstraintViolation)
    assert (foreign_key.kind, foreign_key.constraint) == ("foreign_key", foreign_key_name(engine))
    assert results[4] is not None  # a refusable step that is not refused: its row
    assert names(engine) == ["A", "B", "C"]


def test_a_refusable_step_a_constraint_refuses_is_undone_alone_and_the_rest_is_kept(
    settings: Settings, clean_db: Engine
) -> None:
    results = run(settings, clean_db, lambda database: database.transaction(REFUSED_ALONE))

    assert_refused_alone(results, clean_db)


def test_a_tutorial_session_undoes_a_refused_refusable_step_alone(clean_db: Engine) -> None:
    with Session(clean_db) as session:
        database = EngineDatabase.of_session(session)
        results = asyncio.run(database.transaction(REFUSED_ALONE))

    assert_refused_alone(results, clean_db)
