"""What a request's log line and metrics need from the code that served it: its id, and
the kind of error it ended with."""

import os
import re
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
REQUEST_ID_MAX_LENGTH = 128
# The scope is the one object every middleware and handler of a request shares.
ERROR_KIND_KEY = "heroes.error_kind"

# Safe to echo in a header and to write in a log line: no spaces, quotes or controls.
_WELL_FORMED = re.compile(rf"[A-Za-z0-9._:\-]{{1,{REQUEST_ID_MAX_LENGTH}}}")


def request_id_from(given: bytes | None) -> str:
    """The client's X-Request-ID when it is well formed, else a new one."""
    if given is not None and len(given) <= REQUEST_ID_MAX_LENGTH:
        text = given.decode("latin-1")
        if _WELL_FORMED.fullmatch(text):
            return text
    return os.urandom(16).hex()


def mark_error_kind(scope: MutableMapping[str, Any], kind: str) -> None:
    """Name the error a request is answered with, for its log line and the errors metric."""
    scope[ERROR_KIND_KEY] = kind


def error_kind(scope: MutableMapping[str, Any]) -> str | None:
    kind: str | None = scope.get(ERROR_KIND_KEY)
    return kind
