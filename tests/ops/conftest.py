import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from app.observability.logs import JsonFormatter
from tests.conftest import skip_or_fail
from tests.ops.processes import REDIS_TEST_URL


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


@pytest.fixture
def redis_url() -> str:
    """The test Redis database, reachable (skipped locally, failing in CI, if not)."""
    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=1).ping()
    except redis.RedisError as error:
        skip_or_fail(f"cannot reach Redis at {REDIS_TEST_URL}: {error}")
    return REDIS_TEST_URL
