"""Domain errors, and the handlers that render every error as a JSON object.

Every error body has the shape `{"detail": ...}`. None carries a traceback, SQL, or the
input the client sent: echoing input back is how an error response ends up failing to
render (NaN, lone surrogates) or leaking what it should not.
"""

import json
import logging
from collections.abc import MutableMapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.responses import JSONResponse

logger = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    detail: str


class AppError(Exception):
    """An error the service answers on purpose, with a fixed status and message."""

    status_code: ClassVar[int] = 500
    detail: ClassVar[str] = "Internal Server Error"
    headers: ClassVar[dict[str, str] | None] = None

    def response_headers(self) -> dict[str, str] | None:
        """The headers of this error's response (an error may compute its own)."""
        return self.headers

    @classmethod
    def responses(cls) -> dict[int | str, dict[str, Any]]:
        """The `responses=` entry that makes /docs show this error."""
        return {
            cls.status_code: {
                "model": ErrorBody,
                "description": cls.detail,
                "content": {"application/json": {"example": {"detail": cls.detail}}},
            }
        }


class DatabaseUnavailable(AppError):
    status_code = 503
    detail = "Database unavailable, try again shortly"
    headers = {"Retry-After": "1"}  # noqa: RUF012  # read-only by convention


class MalformedBody(AppError):
    status_code = 400
    detail = "Malformed JSON body"


class BodyTooLarge(AppError):
    """Raised by FastAPI's own body limit; declared here so that /docs shows it."""

    status_code = 413
    detail = "Content Too Large"


class InvalidProblem(BaseModel):
    type: str
    loc: list[str | int]
    msg: str
    ctx: dict[str, Any] | None = None


class InvalidBody(BaseModel):
    detail: list[InvalidProblem]


class InvalidInput(AppError):
    """A value breaks a rule; declared here so that /docs shows the body the handler renders.

    FastAPI's own 422 declaration describes its default body, which this service replaces.
    Subclasses show the problems a route's own parameters give (`problems`, in order).
    """

    status_code = 422
    detail = "A value breaks a rule: each problem with its location"
    problems: ClassVar[tuple[dict[str, Any], ...]] = (
        {
            "type": "string_too_short",
            "loc": ["body", "name"],
            "msg": "String should have at least 1 character",
            "ctx": {"min_length": 1},
        },
    )

    @classmethod
    def responses(cls) -> dict[int | str, dict[str, Any]]:
        example = {"detail": list(cls.problems)}
        return {
            cls.status_code: {
                "model": InvalidBody,
                "description": cls.detail,
                "content": {"application/json": {"example": example}},
            }
        }


# Where whichever part answered an error names its kind, for the request's log line and the
# errors metric (the scope is the one dict every middleware and handler of a request sees).
ERROR_KIND_KEY = "heroes.error_kind"


def mark_error(scope: MutableMapping[str, Any], kind: str) -> None:
    scope[ERROR_KIND_KEY] = kind


def declare(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """Merge the `responses=` declarations of several errors."""
    return {status: entry for error in errors for status, entry in error.responses().items()}


# Errors that mean the database could not be reached or did not answer in time, as
# opposed to errors in what we asked of it.
_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


class SafeJSONResponse(JSONResponse):
    """JSON that always renders: ASCII-escaped, so lone surrogates cannot break it."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=True, allow_nan=False, default=str, separators=(",", ":")
        ).encode()


def error_response(error: type[AppError] | AppError) -> SafeJSONResponse:
    headers = error.response_headers() if isinstance(error, AppError) else error.headers
    return SafeJSONResponse(
        {"detail": error.detail}, status_code=error.status_code, headers=headers
    )


async def _app_error_handler(_request: Request, error: Exception) -> SafeJSONResponse:
    assert isinstance(error, AppError)  # noqa: S101  # registered for AppError only
    return error_response(error)


async def _validation_error_handler(_request: Request, error: Exception) -> SafeJSONResponse:
    assert isinstance(error, RequestValidationError)  # noqa: S101
    errors = error.errors()
    if any(item.get("type") == "json_invalid" for item in errors):
        return error_response(MalformedBody)
    return SafeJSONResponse({"detail": [_describe(item) for item in errors]}, status_code=422)


def _describe(item: Any) -> dict[str, Any]:
    described = {"type": item["type"], "loc": list(item["loc"]), "msg": item["msg"]}
    context = item.get("ctx")
    if context:
        described["ctx"] = {key: _plain(value) for key, value in context.items()}
    return described


def _plain(value: object) -> object:
    if isinstance(value, bool | int | str):
        return value
    return str(value)


def database_unavailable(error: BaseException) -> DatabaseUnavailable:
    """The 503 for an error that means the database is away; logged once, here."""
    cause = getattr(error, "orig", None) or error
    logger.warning("database unavailable: %s: %s", type(cause).__name__, str(cause).strip())
    return DatabaseUnavailable()


async def _database_error_handler(_request: Request, error: Exception) -> SafeJSONResponse:
    return error_response(database_unavailable(error))


async def _unexpected_error_handler(_request: Request, error: Exception) -> SafeJSONResponse:
    logger.error("unhandled error", exc_info=error)
    return error_response(AppError)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    for error_type in _UNAVAILABLE:
        app.add_exception_handler(error_type, _database_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)
