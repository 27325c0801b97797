"""The application factory: settings -> engine -> routers -> error handlers, and lifespan."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from app import __version__
from app.core.config import Settings, SettingsError, load_settings
from app.core.db import create_db_engine, get_engine, get_session
from app.core.errors import install_error_handlers
from app.core.limits import BodySizeLimitMiddleware
from app.core.schema import SchemaError, prepare_database, verify_schema
from app.heroes.router import router as heroes_router

__all__ = ["app", "create_app", "get_session"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # Threads beyond the pool's connections would only queue inside the pool.
    to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
    engine = get_engine(app)
    await run_in_threadpool(prepare_database, engine, migrate=settings.migrate_on_start)
    try:
        yield
    finally:
        engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    logging.getLogger("app").setLevel(settings.log_level)
    app = FastAPI(
        title="Heroes",
        version=__version__,
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=settings.max_body_size)
    app.state.settings = settings
    app.state.engine = create_db_engine(settings)
    install_error_handlers(app)
    app.include_router(heroes_router)
    return app


def _refuse_a_stale_schema(app: FastAPI) -> None:
    """Check the schema on import, where a refusal is one line (a failed lifespan is a
    traceback in uvicorn's log). Migrating is left to the lifespan."""
    if not app.state.settings.migrate_on_start:
        engine = get_engine(app)
        verify_schema(engine)
        engine.dispose()  # no connection carried into the workers


try:
    app = create_app()
    _refuse_a_stale_schema(app)
except (SettingsError, SchemaError) as error:
    raise SystemExit(f"heroes: {error}") from None
