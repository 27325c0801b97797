"""Startup and the schema: migrate on start, or refuse a stale schema in one line."""

from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import Engine, text

from app.db.migrator import head_revision, upgrade
from app.db.schema import FIRST_REVISION, SCHEMA_HEAD, database_revision
from tests.conftest import (
    assert_refused_at_startup,
    run_python,
    run_python_in,
    running_server,
    service_engine,
)
from tests.service_process import free_port


# The ways the service is started: the CLI, and uvicorn on the module's app.
def start_command(how: str) -> list[str]:
    return {
        "heroes serve": ["-m", "app", "serve", "--port", str(free_port())],
        "uvicorn app.main:app": ["-m", "uvicorn", "app.main:app", "--port", str(free_port())],
    }[how]


HOWS = ["heroes serve", "uvicorn app.main:app"]


@pytest.mark.parametrize("how", HOWS)
def test_a_schema_behind_the_code_stops_startup_with_one_line_naming_the_command(
    scratch_url: str, scratch_engine: Engine, how: str
) -> None:
    upgrade(scratch_engine, FIRST_REVISION)

    result = run_python(*start_command(how), DATABASE_URL=scratch_url, DB_MIGRATE_ON_START="false")

    line = assert_refused_at_startup(
        result, how, f"at {FIRST_REVISION}", f"needs {head_revision()}"
    )
    assert line.endswith('run "heroes migrate upgrade"'), line
    assert database_revision(scratch_engine) == FIRST_REVISION  # left as it was


def test_an_empty_server_database_is_not_migrated_by_default(server_scratch_url: str) -> None:
    result = run_python(*start_command("uvicorn app.main:app"), DATABASE_URL=server_scratch_url)

    assert_refused_at_startup(
        result, "uvicorn app.main:app", "schema is at none", 'run "heroes migrate upgrade"'
    )


def test_a_schema_ahead_of_the_code_stops_startup_naming_the_newer_code(
    scratch_url: str, scratch_engine: Engine
) -> None:
    upgrade(scratch_engine)
    with scratch_engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))

    result = run_python(
        *start_command("uvicorn app.main:app"),
        DATABASE_URL=scratch_url,
        DB_MIGRATE_ON_START="false",
    )

    assert_refused_at_startup(
        result,
        "uvicorn app.main:app",
        "at 0999",
        "newer than this code",
        "heroes migrate downgrade",
    )


IMPORT_AND_BUILD = (
    "import time; started = time.perf_counter(); import app.main; app.main.app; "
    "print(time.perf_counter() - started)"
)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:{port}/x",
        "mariadb://root@127.0.0.1:{port}/x",
        "sqlite:///{folder}/missing/heroes.db",
    ],
)
def test_importing_the_app_touches_no_database(url: str, tmp_path: Path) -> None:
    """Importing app.main, and building its app as uvicorn does, makes no connection and
    no file, whatever DATABASE_URL says: checks that need the database wait for start-up."""
    database_url = url.format(port=free_port(), folder=tmp_path)

    result = run_python_in(tmp_path, "-c", IMPORT_AND_BUILD, DATABASE_URL=database_url)

    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 3
    assert list(tmp_path.iterdir()) == []


def test_importing_the_app_accepts_a_stale_schema(
    scratch_url: str, scratch_engine: Engine
) -> None:
    upgrade(scratch_engine, FIRST_REVISION)

    result = run_python("-c", IMPORT_AND_BUILD, DATABASE_URL=scratch_url)

    assert result.returncode == 0, result.stderr
    assert database_revision(scratch_engine) == FIRST_REVISION


@pytest.mark.parametrize("how", ["heroes serve", "uvicorn app.main:app"])
@pytest.mark.parametrize(
    "url", ["postgresql://postgres@127.0.0.1:{port}/x", "mariadb://root@127.0.0.1:{port}/x"]
)
def test_a_database_that_is_down_stops_startup_with_one_line(how: str, url: str) -> None:
    result = run_python(*start_command(how), DATABASE_URL=url.format(port=free_port()))

    assert_refused_at_startup(result, how, "heroes: cannot reach the database")


def test_an_empty_database_migrates_itself_on_start(scratch_url: str) -> None:
    # Automatic on SQLite; a server database migrates on start only when told to.
    told = {} if scratch_url.startswith("sqlite") else {"DB_MIGRATE_ON_START": "true"}

    assert_migrates_on_start(scratch_url, **told)


def assert_migrates_on_start(url: str, **settings: str) -> None:
    with running_server(url, **settings) as server:
        response = httpx.post(f"{server.base_url}/heroes/", json={"name": "A", "secret_name": "a"})

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"id", "name", "age"}
    engine = service_engine(url)
    try:
        assert database_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_a_current_schema_is_checked_without_loading_alembic(
    scratch_url: str, scratch_engine: Engine
) -> None:
    """Each worker imports the app and runs its lifespan: with the schema current, neither
    loads Alembic (about 11 MB a process), and without REDIS_URL nothing loads Redis."""
    upgrade(scratch_engine)
    check = (
        "import sys, asyncio\n"
        "from app.main import app, lifespan\n"
        "async def start():\n"
        "    async with lifespan(app):\n"
        "        pass\n"
        "asyncio.run(start())\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'alembic', 'redis'}))\n"
    )

    for migrate in ("true", "false"):
        result = run_python("-c", check, DATABASE_URL=scratch_url, DB_MIGRATE_ON_START=migrate)

        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "[]", migrate


def test_schema_head_names_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_HEAD
