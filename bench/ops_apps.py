"""The service with and without its per-request production middleware, for bench/ops.py."""

from fastapi import FastAPI

from app.http.body_limit import BodySizeLimitMiddleware
from app.main import create_app


def bare() -> FastAPI:
    """The service as it was before request ids, logs, metrics, limits and headers."""
    app = create_app()
    kept: object = BodySizeLimitMiddleware
    app.user_middleware = [m for m in app.user_middleware if m.cls is kept]
    return app


def full() -> FastAPI:
    return create_app()
