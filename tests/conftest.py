"""The backend matrix and the fixtures every test builds on.

Each API test runs once per backend: SQLite always; PostgreSQL and MariaDB at the URLs in
TEST_POSTGRES_URL and TEST_MARIADB_URL (local defaults below; set one empty to leave that
backend out). A backend that cannot be reached is skipped on a laptop and fails with CI=true.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, create_engine, delete, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel

from app.config import Settings, load_settings
from app.db.migrator import upgrade
from app.main import create_app

BACKENDS = ("sqlite", "postgresql", "mariadb")
SERVER_URLS = {
    "postgresql": os.environ.get(
        "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("TEST_MARIADB_URL", "mariadb+pymysql://root@127.0.0.1:3306/test"),
}
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REPO_ROOT = Path(__file__).resolve().parent.parent
SETTING_NAMES = frozenset(name.upper() for name in Settings.model_fields)


def run_python(*arguments: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return run_python_in(REPO_ROOT, *arguments, **settings)


def run_python_in(cwd: Path, *arguments: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Our interpreter in a subprocess (nothing the tests imported helps it), with only the
    settings given: none leaks in from the environment running the tests."""
    env = {name: value for name, value in os.environ.items() if name.upper() not in SETTING_NAMES}
    env |= {"PYTHONPATH": str(REPO_ROOT)} | settings
    return subprocess.run(  # noqa: S603  # our own interpreter and arguments
        [sys.executable, *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


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
    with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(delete(table))


@pytest.fixture
def clean_db(engine: Engine) -> Engine:
    """The backend's database with every table empty: each test starts clean."""
    empty_tables(engine)
    return engine


@pytest.fixture
def client(running_client: TestClient, clean_db: Engine) -> TestClient:
    return running_client


@pytest.fixture
def session(clean_db: Engine) -> Iterator[Session]:
    """A session of the test's own, for arranging data and reading back what is stored."""
    with Session(clean_db, expire_on_commit=False) as session:
        yield session


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_serving(base_url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/heroes/?limit=0", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {seconds} s")


def start_server(database_url: str, **environment: str) -> tuple[str, subprocess.Popen[bytes]]:
    """Run the service under uvicorn on a free loopback port, as a deployment would."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"} | environment
    command = [sys.executable, "-m", "uvicorn", "app.main:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=REPO_ROOT)  # noqa: S603
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base_url, process, seconds=30)
    except RuntimeError:
        process.kill()
        raise
    return base_url, process


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def live_server(database_url: str, clean_db: Engine) -> Iterator[str]:
    """The service in its own process on 127.0.0.1, over the test's backend."""
    base_url, process = start_server(database_url)
    try:
        yield base_url
    finally:
        stop_server(process)
