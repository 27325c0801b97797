"""The request id of the request being served, for every log line it causes."""

import os
import re
from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
REQUEST_ID_MAX_LENGTH = 128

# Safe to echo in a header and to write in a log line: no spaces, quotes or controls.
_WELL_FORMED = re.compile(rf"[A-Za-z0-9._:\-]{{1,{REQUEST_ID_MAX_LENGTH}}}")


def request_id_from(given: bytes | None) -> str:
    """The client's X-Request-ID when it is well formed, else a new one."""
    if given is not None:
        text = given.decode("latin-1")
        if _WELL_FORMED.fullmatch(text):
            return text
    return os.urandom(16).hex()
