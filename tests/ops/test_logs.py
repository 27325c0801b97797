"""The JSON log line's text: what `json.dumps` would write, however it is made."""

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.observability.logs import JsonFormatter

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
