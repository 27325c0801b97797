"""An empty database of its own for each migration test, on each backend.

Migration tests create and drop the hero table, so they work beside the suite's database:
a fresh SQLite file, a PostgreSQL schema, a MariaDB database (`<test database>_scratch`).
"""

import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from app.config import load_settings
from app.db.backends import create_db_engine
from tests.conftest import BACKENDS, drop_every_table, reachable_server_url

Completed = subprocess.CompletedProcess[str]

SCRATCH = "scratch"
SERVER_BACKENDS = tuple(backend for backend in BACKENDS if backend != "sqlite")


@pytest.fixture(params=BACKENDS)
def scratch_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of an empty database (no table at all), as DATABASE_URL would give it."""
    backend: str = request.param
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('scratch') / 'heroes.db'}"
    return empty_server_database(backend)


@pytest.fixture(params=SERVER_BACKENDS)
def server_scratch_url(request: pytest.FixtureRequest) -> str:
    """As scratch_url, on the server backends only."""
    backend: str = request.param
    return empty_server_database(backend)


def empty_server_database(backend: str) -> str:
    url = _scratch_place(make_url(reachable_server_url(backend)))
    engine = create_engine(url)
    try:
        drop_every_table(engine)
    finally:
        engine.dispose()
    return url.render_as_string(hide_password=False)


def _scratch_place(url: URL) -> URL:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if url.get_backend_name() == "postgresql":
                connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCRATCH}"))
                return url.update_query_dict({"options": f"-csearch_path={SCRATCH}"})
            database = f"{url.database}_{SCRATCH}"
            connection.execute(
                text(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4")
            )
            return url.set(database=database)
    finally:
        admin.dispose()


@pytest.fixture
def scratch_engine(scratch_url: str) -> Iterator[Engine]:
    """The service's own engine on the empty database."""
    engine = service_engine(scratch_url)
    yield engine
    engine.dispose()


def service_engine(url: str) -> Engine:
    return create_db_engine(load_settings(database_url=url))


def assert_one_line_error(result: Completed, *fragments: str) -> str:
    """The command stopped, non-zero, with one line on stderr and no traceback."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], result.stderr
    return lines[0]


def assert_refused_at_startup(result: Completed, how: str, *fragments: str) -> str:
    """Start-up stopped, non-zero, saying why in one line (`heroes: ...`) and no traceback.
    From the `heroes` command that line is all there is; under uvicorn it sits among
    uvicorn's own start-up lines."""
    if how == "heroes serve":
        return assert_one_line_error(result, *fragments)
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if "heroes: " in line]
    assert len(lines) == 1, result.stderr
    line = lines[0][lines[0].index("heroes: ") :]
    for fragment in fragments:
        assert fragment in line, result.stderr
    return line
