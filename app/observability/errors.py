"""Name the kind of each error the app's exception handlers answer, for logs and metrics."""

from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.core.errors import AppError, DatabaseUnavailable, mark_error

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def error_kind(error: Exception) -> str:
    if isinstance(error, AppError):
        return type(error).__name__
    if isinstance(error, HTTPException):
        return f"http_{error.status_code}"
    if isinstance(error, RequestValidationError):
        return "RequestValidation"
    if isinstance(error, SQLAlchemyError):
        return DatabaseUnavailable.__name__
    return type(error).__name__


def name_error_kinds(app: FastAPI) -> None:
    """Wrap every handler but the catch-all (ObserveRequests sees those exceptions itself)."""
    for key, handler in list(app.exception_handlers.items()):
        if key not in (Exception, 500):
            app.exception_handlers[key] = _naming(handler)


def _naming(handler: Handler) -> Handler:
    async def handle(request: Request, error: Exception) -> Response:
        mark_error(request.scope, error_kind(error))
        response = handler(request, error)
        return await response if isawaitable(response) else response

    return handle
