import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from app.observability.logs import JsonFormatter


class JsonLines(logging.Handler):
    """The service's log lines, as the JSON objects it writes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def of(self, request_id: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("request_id") == request_id]


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    handler = JsonLines()
    logger = logging.getLogger("app")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
