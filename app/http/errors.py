"""Every error as a JSON object `{"detail": ...}`, rendered here and only here.

Domains, the kit and the database layer raise plain exceptions (`NotFound`,
`PreconditionFailed`, `DatabaseUnavailable`); this module decides their status codes and
headers, names their kind for logs and metrics, and declares them to OpenAPI. No body
carries a traceback, SQL, or the input the client sent: echoing input back is how an error
response ends up failing to render (NaN, lone surrogates) or leaking what it should not.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.errors import DatabaseUnavailable
from app.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    RefusedValue,
    TooManyAttempts,
    Unauthenticated,
)
from app.http.conditional import CACHE_CONTROL, entity_tag
from app.observability.context import mark_error_kind

logger = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    detail: str


class HttpError(Exception):
    """An error of the request itself, refused by the HTTP layer: a fixed status and text."""

    status_code: ClassVar[int] = 500
    detail: ClassVar[str] = "Internal Server Error"
    retry_after: ClassVar[str | None] = None
    """Seconds for `Retry-After`, on an answer that a later retry may change."""


class MalformedBody(HttpError):
    status_code = 400
    detail = "Malformed JSON body"


class BodyTooLarge(HttpError):
    """Raised by the body limit; declared so that /docs shows it."""

    status_code = 413
    detail = "Content Too Large"


class HeadTooLarge(HttpError):
    """A header line, or the request's head, over the limit (app/http/head_limit.py)."""

    status_code = 431
    detail = "Request Header Fields Too Large"


class UriTooLong(HttpError):
    status_code = 414
    detail = "URI Too Long"


class HostNotAllowed(HttpError):
    """A Host header that ALLOWED_HOSTS does not name (app/http/hosts.py)."""

    status_code = 400
    detail = "Invalid host header"


class InvalidHttpRequest(HttpError):
    """A request the HTTP parser refuses: not valid HTTP/1.1 (app/http/server.py)."""

    status_code = 400
    detail = "Bad Request: not a valid HTTP/1.1 request"


class RequestTimedOut(HttpError):
    """A request's head or body stopped arriving (app/http/timeouts.py); the connection
    is closed after it."""

    status_code = 408
    detail = "Request Timeout: the request stopped arriving"


class RateLimited(HttpError):
    status_code = 429
    detail = "Too many requests, slow down"


@dataclass(frozen=True, slots=True)
class Answer:
    """How one kind of error is answered."""

    status_code: int
    detail: str
    headers: dict[str, Any] = field(default_factory=dict)  # OpenAPI's header objects


_ETAG_HEADER = {"ETag": {"description": "The current entity tag.", "schema": {"type": "string"}}}
_RETRY_HEADER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}}
_ANSWERS: dict[type[Exception], Answer] = {
    PreconditionFailed: Answer(
        412,
        "Precondition Failed: the resource has changed since the ETag in If-Match",
        _ETAG_HEADER,
    ),
    PreconditionRequired: Answer(
        428, "Precondition Required: send If-Match with the ETag of the state you change"
    ),
    DatabaseUnavailable: Answer(503, "Database unavailable, try again shortly", _RETRY_HEADER),
}


_CHALLENGE_HEADER = {
    "WWW-Authenticate": {
        "description": 'Bearer; with `error="invalid_token"` when the token sent was refused.',
        "schema": {"type": "string"},
    }
}
# Errors whose kinds each carry their own text: the status, and the headers OpenAPI shows.
_NAMED: tuple[tuple[type[Any], int, dict[str, Any]], ...] = (
    (NotFound, 404, {}),
    (Gone, 410, {}),
    (Unauthenticated, 401, _CHALLENGE_HEADER),
    (Forbidden, 403, {}),
    (Conflict, 409, {}),
    (TooManyAttempts, 429, _RETRY_HEADER),
)


def answer_for(error_type: type[Exception]) -> Answer:
    """The status and text an error of this type is answered with."""
    if issubclass(error_type, HttpError):
        headers = _RETRY_HEADER if error_type.retry_after else {}
        return Answer(error_type.status_code, error_type.detail, headers)
    for named, status, named_headers in _NAMED:
        if issubclass(error_type, named):
            return Answer(status, error_type.detail, named_headers)  # type: ignore[attr-defined]  # each named kind has its detail
    return next(
        (answer for base in error_type.__mro__ if (answer := _ANSWERS.get(base)) is not None),
        Answer(500, "Internal Server Error"),
    )


def _headers_of(error: Exception) -> dict[str, str] | None:
    if isinstance(error, PreconditionFailed):
        return {"ETag": entity_tag(error.row_id, error.version), "Cache-Control": CACHE_CONTROL}
    if isinstance(error, DatabaseUnavailable):
        return {"Retry-After": "1"}
    if isinstance(error, HttpError) and error.retry_after:
        return {"Retry-After": error.retry_after}
    if isinstance(error, Unauthenticated):
        challenge = 'Bearer error="invalid_token"' if error.token_sent else "Bearer"
        return {"WWW-Authenticate": challenge}
    if isinstance(error, TooManyAttempts):
        return {"Retry-After": str(error.retry_after)}
    return None


class SafeJSONResponse(JSONResponse):
    """JSON that always renders: ASCII-escaped, so lone surrogates cannot break it."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=True, allow_nan=False, default=str, separators=(",", ":")
        ).encode()


def error_response(
    error: type[Exception] | Exception, headers: dict[str, str] | None = None
) -> SafeJSONResponse:
    error_type = error if isinstance(error, type) else type(error)
    answer = answer_for(error_type)
    if isinstance(error, Exception):
        headers = (_headers_of(error) or {}) | (headers or {})
    return SafeJSONResponse(
        {"detail": answer.detail}, status_code=answer.status_code, headers=headers or None
    )


# --- OpenAPI -----------------------------------------------------------------------------


class InvalidProblem(BaseModel):
    type: str
    loc: list[str | int]
    msg: str
    ctx: dict[str, Any] | None = None


class InvalidBody(BaseModel):
    detail: list[InvalidProblem]


class InvalidInput(HttpError):
    """A value breaks a rule; declared so that /docs shows the body the handler renders.

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


def declare(*errors: type[Exception]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries that make /docs show these errors, with an example each."""
    return {status: entry for error in errors for status, entry in _declared(error).items()}


def _declared(error: type[Exception]) -> dict[int | str, dict[str, Any]]:
    answer = answer_for(error)
    if issubclass(error, InvalidInput):
        example: dict[str, Any] = {"detail": list(error.problems)}
        model: type[BaseModel] = InvalidBody
    else:
        example, model = {"detail": answer.detail}, ErrorBody
    declared: dict[str, Any] = {
        "model": model,
        "description": answer.detail,
        "content": {"application/json": {"example": example}},
    }
    if answer.headers:
        declared["headers"] = answer.headers
    return {answer.status_code: declared}


# --- handlers ----------------------------------------------------------------------------


def error_kind(error: Exception) -> str:
    """The kind of error a request ended with, as logs and the errors metric name it."""
    if isinstance(error, DatabaseUnavailable):
        return DatabaseUnavailable.__name__
    if isinstance(error, HTTPException):
        return f"http_{error.status_code}"
    if isinstance(error, RequestValidationError):
        return "RequestValidation"
    return type(error).__name__


async def _domain_error_handler(request: Request, error: Exception) -> SafeJSONResponse:
    mark_error_kind(request.scope, error_kind(error))
    return error_response(error)


async def _validation_error_handler(request: Request, error: Exception) -> SafeJSONResponse:
    assert isinstance(error, RequestValidationError)  # noqa: S101  # registered for it only
    errors = error.errors()
    if any(item.get("type") == "json_invalid" for item in errors):
        mark_error_kind(request.scope, MalformedBody.__name__)
        return error_response(MalformedBody)
    mark_error_kind(request.scope, error_kind(error))
    return SafeJSONResponse({"detail": [_describe(item) for item in errors]}, status_code=422)


def described(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors as a 422's body lists them (a batch's invalid items too)."""
    return [_describe(item) for item in errors]


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


async def _unexpected_error_handler(_request: Request, error: Exception) -> SafeJSONResponse:
    """The last resort, in Starlette's ServerErrorMiddleware outside every middleware: only
    an error in ObserveRequests or the security headers comes here."""
    logger.error("unhandled error", exc_info=error)
    return error_response(HttpError)


class UnhandledErrors:
    """Answer an error nothing handled with the JSON 500, inside the middleware that stamps
    every answer (the request id, the security headers).

    Starlette renders such an error in ServerErrorMiddleware, outermost of all: its 500 went
    out without X-Request-ID or the security headers. The error is logged here and not
    raised further; a response already under way can only be cut off, so then it is.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception:
            mark_error_kind(scope, "unhandled")
            logger.exception("unhandled error")
            if started:
                raise
            await error_response(HttpError)(scope, receive, send)


async def _refused_value_handler(request: Request, error: Exception) -> SafeJSONResponse:
    """A value the stored data refused (a reference the database's foreign key refused,
    say), answered as a validation error of its field."""
    assert isinstance(error, RefusedValue)  # noqa: S101  # registered for it only
    mark_error_kind(request.scope, error_kind(error))
    problem = {"type": error.problem, "loc": ["body", error.field], "msg": error.message}
    return SafeJSONResponse({"detail": [problem]}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RefusedValue, _refused_value_handler)
    handled = (HttpError, NotFound, Gone, PreconditionFailed, PreconditionRequired)
    for error_type in (*handled, Unauthenticated, Forbidden, Conflict, TooManyAttempts):
        app.add_exception_handler(error_type, _domain_error_handler)
    app.add_exception_handler(DatabaseUnavailable, _domain_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)
