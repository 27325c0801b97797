"""One JSON object per log line, stamped with the request id of the request it belongs to."""

import json
import logging
import re
import time
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import orjson

from app.observability.context import REQUEST_ID


class JsonFormatter(logging.Formatter):
    """Fields given as `extra={"fields": {...}}` join the line; other extras are left out
    (uvicorn's `color_message`, for one)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        fields = record.__dict__.get("fields")
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode(entry)


_ENCODER = json.JSONEncoder(ensure_ascii=True, default=str, separators=(",", ":"))
# What orjson does not render as `json` would goes to `str`, as `json` sends it there.
_AS_JSON_DOES = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _encode(entry: dict[str, Any]) -> str:
    """The line `json.dumps(entry, ensure_ascii=True, default=str)` writes, compact.

    orjson writes most lines, at a tenth of the cost; a line it would write otherwise
    (any non-ASCII character, an integer over 64 bits) is left to `json`. Floats print
    alike, but for rare spellings: orjson writes 1e16 for 1e+16, and null for NaN."""
    try:
        line = orjson.dumps(entry, default=str, option=_AS_JSON_DOES)
    except TypeError:
        return _ENCODER.encode(entry)
    return line.decode("ascii") if line.isascii() else _ENCODER.encode(entry)


_last_second: list[object] = [None, ""]  # formatting the date is most of a line's cost


def _timestamp(created: float) -> str:
    second = int(created)
    if _last_second[0] != second:
        _last_second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_last_second[1]}.{int(created % 1 * 1000):03d}Z"


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the service's own loggers (`app.*`)."""
    _record_only_what_lines_show()
    logger = logging.getLogger("app")
    logger.setLevel(level)
    if not any(isinstance(handler.formatter, JsonFormatter) for handler in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.propagate = False


def _record_only_what_lines_show() -> None:
    """Skip the parts of a log record no line shows: the caller's file and line (a walk
    up the stack), the thread, the multiprocessing name. The logging HOWTO's
    "Optimization" section names these switches; with them and orjson an access line
    costs 13 µs instead of 22-30 (bench/PROFILE.md). The pid stays: every line has it."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """uvicorn's own lines (start-up, shutdown, its errors) as JSON too; no access log."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {"uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False}},
    }


# A query parameter whose name holds one of these carries a credential: password, passwd,
# pwd, sslpassword, token, access_token, secret, client_secret, key, sslkey, api_key, auth...
_CREDENTIAL_NAMES = re.compile(r"pass|pwd|token|secret|key|auth|credential", re.IGNORECASE)
MASK = "***"


def masked_url(url: str) -> str:
    """A database or Redis URL fit for a log line: every credential replaced by ***, the
    userinfo's password and each query parameter named like one (`?password=`,
    `sslpassword`, `token`, `secret`, `key`...), wherever it stands; a fragment goes whole.
    Parsed generically, not by the driver's rules: a URL no parser takes is masked whole."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # a bad port raises here, not later
    except ValueError:
        return url.split("://", 1)[0] + "://" + MASK
    userinfo, at, host = parts.netloc.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    masked = f"{parts.scheme}://{user}{colon and ':' + MASK}{at}{host}{parts.path}"
    if parts.query:
        # `&` or `;` separate parameters; the separators are kept as they were.
        items = re.split(r"([&;])", parts.query)
        masked += "?" + "".join(_masked_parameter(item) for item in items)
    return masked + ("#" + MASK if parts.fragment else "")


def _masked_parameter(item: str) -> str:
    name, equals, _value = item.partition("=")
    return f"{name}={MASK}" if equals and _CREDENTIAL_NAMES.search(unquote_plus(name)) else item
