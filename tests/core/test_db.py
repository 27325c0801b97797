"""How the service sets up each backend's connections."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.config import load_settings
from app.db.backends import create_db_engine


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'heroes.db'}")
    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            pragmas: dict[str, object] = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
    finally:
        engine.dispose()

    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": int(settings.sqlite_busy_timeout * 1000),
        "foreign_keys": 1,
        "synchronous": 1,  # NORMAL
    }


def test_in_memory_sqlite_is_one_database_shared_by_every_connection() -> None:
    engine = create_db_engine(load_settings(database_url="sqlite://"))
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE seen (x INTEGER)"))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM seen")).scalar_one() == 0
    finally:
        engine.dispose()


def test_sql_errors_never_show_the_values_sent(tmp_path: Path) -> None:
    engine = create_db_engine(load_settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    try:
        with engine.connect() as connection:
            connection.execute(text("CREATE TABLE t (x TEXT NOT NULL CHECK (x != 'secret'))"))
            with pytest.raises(IntegrityError) as raised:
                connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": "secret"})
    finally:
        engine.dispose()

    assert "'secret'" not in str(raised.value).split("[SQL:")[1]
    assert "hidden due to hide_parameters" in str(raised.value)
