"""The JSON log line's text: what `json.dumps` would write, however it is made."""

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.observability.logs import JsonFormatter, masked_url
from tests.conftest import reachable_server_url, run_python

ENTRIES: list[dict[str, Any]] = [
    {"method": "GET", "route": "/heroes/{hero_id}", "status": 200, "duration_ms": 0.123},
    {"route": "unmatched", "status": 404, "duration_ms": 12.5, "ok": True, "none": None},
    {"name": "Zoë Siobhán", "emoji": "\U0001f9b8"},  # non-ASCII: escaped, as json does
    {"at": datetime(2026, 12, 2, 4, 52, tzinfo=UTC), "amount": Decimal("1.50")},
    {"big": 2**70, "small": -(2**63), "nested": {"list": [1, "two", None]}},
    {"object": object.__name__, "tuple": (1, 2)},
]


def _line(fields: dict[str, Any]) -> str:
    record = logging.LogRecord("app.access", logging.INFO, __file__, 1, "request", None, None)
    record.fields = fields
    return JsonFormatter().format(record)


@pytest.mark.parametrize("fields", ENTRIES)
def test_a_line_is_the_text_json_dumps_writes(fields: dict[str, Any]) -> None:
    line = _line(fields)

    entry = json.loads(line)
    expected = json.dumps(entry | fields, ensure_ascii=True, default=str, separators=(",", ":"))
    assert line == expected
    assert line.isascii()


def test_a_line_holds_the_record_and_its_fields_in_order() -> None:
    entry = json.loads(_line({"status": 201}))

    assert list(entry) == ["time", "level", "logger", "message", "pid", "status"]
    assert (entry["level"], entry["logger"], entry["message"]) == ("INFO", "app.access", "request")


# Credentials never reach a line, wherever the URL carries them.
SECRET = "hunter2"
MASKED_URLS = [
    (
        "postgresql+psycopg://heroes:hunter2@db:5432/heroes",
        "postgresql+psycopg://heroes:***@db:5432/heroes",
    ),
    (
        "postgresql+psycopg://db/heroes?password=hunter2",
        "postgresql+psycopg://db/heroes?password=***",
    ),
    (
        "postgresql+psycopg://u@db/h?sslmode=require&sslpassword=hunter2&sslkey=/k",
        "postgresql+psycopg://u@db/h?sslmode=require&sslpassword=***&sslkey=***",
    ),
    (
        "mariadb+pymysql://root@db:3306/h?charset=utf8mb4&passwd=hunter2",
        "mariadb+pymysql://root@db:3306/h?charset=utf8mb4&passwd=***",
    ),
    (
        "mariadb+pymysql://u:hunter2@db/h?Password=hunter2",
        "mariadb+pymysql://u:***@db/h?Password=***",
    ),
    ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
    ("rediss://default:hunter2@cache/0?token=hunter2", "rediss://default:***@cache/0?token=***"),
    (
        "redis://cache/0?a=1;secret=hunter2&api_key=hunter2",
        "redis://cache/0?a=1;secret=***&api_key=***",
    ),
    ("redis://cache/0?pass%77ord=hunter2", "redis://cache/0?pass%77ord=***"),
    ("redis://cache/0#hunter2", "redis://cache/0#***"),
    ("postgresql://u:hun@ter2@db/h", "postgresql://u:***@db/h"),  # an unescaped @ in it
    ("postgresql://u:hunter2@[::1]:5432/h", "postgresql://u:***@[::1]:5432/h"),
    ("postgresql://u:hunter2@db:notaport/h", "postgresql://***"),
    ("sqlite:///./heroes.db", "sqlite:///./heroes.db"),
    ("sqlite:////var/lib/heroes.db?timeout=5", "sqlite:////var/lib/heroes.db?timeout=5"),
]


@pytest.mark.parametrize(("url", "expected"), MASKED_URLS)
def test_masked_url_hides_every_credential_and_keeps_the_rest(url: str, expected: str) -> None:
    masked = masked_url(url)

    assert masked == expected
    assert SECRET not in masked
    assert "hun@ter2" not in masked


STARTS = """
from fastapi.testclient import TestClient
from app.main import app
with TestClient(app) as client:
    print("readyz", client.get("/readyz").status_code)
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_starting_line_names_both_urls_with_no_credential(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'heroes.db'}?password=hunter2"
    else:  # the test server trusts local connections: the passwords are there to be masked
        database_url = reachable_server_url(backend) + "?password=hunter2&sslpassword=hunter2"
    redis_url = "redis://:hunter2@127.0.0.1:1/0?password=hunter2&token=hunter2"  # never reached
    result = run_python(
        "-c",
        STARTS,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        RATE_LIMIT_PER_SECOND="10",
        DB_MIGRATE_ON_START="true",
        LOG_LEVEL="DEBUG",
    )

    output = result.stdout + result.stderr
    assert "readyz" in result.stdout, output
    starting = [json.loads(line) for line in result.stderr.splitlines() if '"starting"' in line]
    assert len(starting) == 1, output
    assert starting[0]["database"] == masked_url(database_url)
    assert starting[0]["redis"] == "redis://:***@127.0.0.1:1/0?password=***&token=***"
    assert SECRET not in output
