"""The backend matrix and the fixtures every test builds on.

Each API test runs once per backend: SQLite always; PostgreSQL and MariaDB at the URLs in
TEST_POSTGRES_URL and TEST_MARIADB_URL (local defaults below; set one empty to leave that
backend out). A backend that cannot be reached is skipped on a laptop and fails with CI=true.
Also here: scratch databases (empty, for migrations and the `heroes` command), our
interpreter as a subprocess, and the service as a process (`running_server`, `live_server`),
started the one way tests/service_process.py starts it for the tests and the benchmarks.
"""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, create_engine, delete, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel

from app.config import Settings, load_settings
from app.db.backends import create_db_engine
from app.db.migrator import upgrade
from app.kit.changes.models import ChangeClock
from app.kit.changes.watch import ChangeWatch
from app.main import create_app
from tests.service_process import REPO_ROOT, ServiceProcess, uvicorn_command

pytest_plugins = ("tests.statements",)  # the `counted` fixture

BACKENDS = ("sqlite", "postgresql", "mariadb")
SERVER_URLS = {
    "postgresql": os.environ.get(
        "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("TEST_MARIADB_URL", "mariadb+pymysql://root@127.0.0.1:3306/test"),
}
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SETTING_NAMES = frozenset(name.upper() for name in Settings.model_fields)
Completed = subprocess.CompletedProcess[str]


def run_python(*arguments: str, input_text: str | None = None, **settings: str) -> Completed:
    return run_python_in(REPO_ROOT, *arguments, input_text=input_text, **settings)


def run_python_in(
    cwd: Path, *arguments: str, input_text: str | None = None, **settings: str
) -> Completed:
    """Our interpreter in a subprocess (nothing the tests imported helps it), with only the
    settings given: none leaks in from the environment running the tests."""
    env = {name: value for name, value in os.environ.items() if name.upper() not in SETTING_NAMES}
    env |= {"PYTHONPATH": str(REPO_ROOT)} | settings
    return subprocess.run(  # noqa: S603  # our own interpreter and arguments
        [sys.executable, *arguments],
        cwd=cwd,
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


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


def skip_or_fail(reason: str) -> None:
    """A missing server is the laptop's business, but a failure in CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: every backend must be tested)")
    pytest.skip(reason)


def reachable_server_url(backend: str) -> str:
    """The server backend's test URL as the service spells it; skip (fail in CI) if it is down."""
    url = SERVER_URLS[backend]
    if not url:
        skip_or_fail(f"the {backend} test URL is set empty")
    url = load_settings(database_url=url).database_url
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        skip_or_fail(f"cannot reach {engine.url!r}: {type(error).__name__}: {error}")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    backend: str = request.param
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'heroes.db'}"
    return reachable_server_url(backend)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return load_settings(database_url=database_url, environment="test")


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    # Start from the schema the migrations make, whatever an earlier run left behind.
    drop_every_table(app.state.engine)
    upgrade(app.state.engine)
    return app


def drop_every_table(engine: Engine) -> None:
    """An empty database: the tables, alembic_version and whatever a failed run left."""
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)


@pytest.fixture(scope="session")
def running_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:  # runs the lifespan: tables, thread pool
        yield client


@pytest.fixture(scope="session")
def engine(running_client: TestClient, app: FastAPI) -> Engine:
    engine: Engine = app.state.engine
    return engine


def empty_tables(engine: Engine) -> None:
    """Every table empty but for the change log's clock, set back to its start (the one
    row migration 0009 inserts)."""
    with engine.begin() as connection:
        # The clock first: a sequencer's round still running from the last test takes its
        # lock before the change log's rows, and so must this, or the two deadlock.
        connection.execute(update(ChangeClock).values(position=0, horizon=0))
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name != ChangeClock.__tablename__:
                connection.execute(delete(table))


@pytest.fixture
def clean_db(engine: Engine) -> Engine:
    """The backend's database with every table empty: each test starts clean."""
    empty_tables(engine)
    return engine


@pytest.fixture
def client(running_client: TestClient, clean_db: Engine) -> TestClient:
    forget_changes(running_client)
    return running_client


def forget_changes(client: TestClient) -> None:
    """The change log was emptied and its clock set back: the app's watch forgets the
    changes it keeps for followers (app/kit/changes/watch.py), on the app's own loop."""
    watch: ChangeWatch = client.app.state.changes_watch  # type: ignore[attr-defined]
    assert client.portal is not None  # the client is running
    client.portal.call(watch.forget)


ServiceWith = Callable[..., TestClient]


@pytest.fixture
def service_with(settings: Settings, clean_db: Engine) -> Iterator[ServiceWith]:
    """Start the service on the test's backend with other settings (WRITE_POLICY=owner,
    say): `service_with(write_policy="owner")` is its running client."""
    with ExitStack() as started:

        def start(**overrides: object) -> TestClient:
            given = {"database_url": settings.database_url, "environment": "test"} | overrides
            changed = load_settings(**given)
            return started.enter_context(TestClient(create_app(changed)))

        yield start


@pytest.fixture
def session(clean_db: Engine) -> Iterator[Session]:
    """A session of the test's own, for arranging data and reading back what is stored."""
    with Session(clean_db, expire_on_commit=False) as session:
        yield session


# An empty database of its own for a test that migrates, or runs the `heroes` command: it
# creates and drops the hero table beside the suite's database, in a fresh SQLite file, a
# PostgreSQL schema, or a MariaDB database (`<test database>_scratch`).

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


@contextmanager
def running_server(database_url: str, **settings: str) -> Iterator[ServiceProcess]:
    """The service under uvicorn on a free loopback port, as a deployment would run it,
    answering once it can read the heroes."""
    server = ServiceProcess.start(
        uvicorn_command("app.main:app", "--log-level", "warning"),
        environment={"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"} | settings,
        ready_path="/heroes/?limit=0",
        seconds=30,
    )
    try:
        yield server
    finally:
        server.stop(timeout=10)


@pytest.fixture
def live_server(database_url: str, clean_db: Engine) -> Iterator[str]:
    """The service in its own process on 127.0.0.1, over the test's backend."""
    with running_server(database_url) as server:
        yield server.base_url
