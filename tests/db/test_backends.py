"""How the service sets up each backend's connections."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from app.config import load_settings
from app.db.backends import create_db_engine
from tests.conftest import reachable_server_url


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


def test_statement_timeout_keeps_the_options_given_in_the_postgresql_url() -> None:
    url = make_url(reachable_server_url("postgresql"))
    url = url.update_query_dict({"options": "-c search_path=public -c application_name=heroes"})
    settings = load_settings(
        database_url=url.render_as_string(hide_password=False), db_statement_timeout=7
    )
    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            shown: list[str] = [
                connection.execute(text(f"SHOW {name}")).scalar_one()
                for name in ("statement_timeout", "search_path", "application_name", "TimeZone")
            ]
    finally:
        engine.dispose()

    assert shown == ["7s", "public", "heroes", "UTC"]
