"""`heroes serve` before its workers start."""

from pathlib import Path

from sqlalchemy import create_engine, inspect

from tests.conftest import run_python
from tests.service_process import free_port


def test_serve_migrates_once_before_several_workers_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = "from app.cli import _prepare_schema; from app.config import load_settings; "
    code += f"_prepare_schema(load_settings(database_url={url!r}))"

    finished = run_python("-c", code)

    assert finished.returncode == 0, finished.stderr
    engine = create_engine(url)
    try:
        assert inspect(engine).has_table("hero")
    finally:
        engine.dispose()


def test_serve_stops_in_one_line_when_the_database_cannot_be_reached() -> None:
    url = f"postgresql://heroes:hunter2@127.0.0.1:{free_port()}/heroes"
    code = "from app.cli import main; main(['serve', '--workers', '2'])"

    finished = run_python("-c", code, DATABASE_URL=url, DB_CONNECT_TIMEOUT="1")

    assert finished.returncode == 1
    assert finished.stderr.startswith("heroes: cannot reach the database: OperationalError: ")
    assert finished.stderr.count("\n") == 1
    assert "hunter2" not in finished.stderr
