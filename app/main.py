"""The application factory: settings -> engine -> routers -> error handlers, and lifespan."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings, SettingsError, load_settings
from app.core.database import Database, DependencyOverrides, create_database
from app.core.db import create_db_and_tables, create_db_engine, get_engine, get_session
from app.core.docs import api_info, install_docs, operation_id
from app.core.errors import install_error_handlers
from app.core.limits import BodySizeLimitMiddleware
from app.heroes import openapi as heroes_openapi
from app.heroes.router import router as heroes_router

__all__ = ["app", "create_app", "get_session"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # Threads serve the backends SQLAlchemy runs (MariaDB); more than the pool's
    # connections would only queue inside the pool.
    to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
    engine = get_engine(app)
    await run_in_threadpool(create_db_and_tables, engine)
    database: Database = app.state.database
    try:
        yield
    finally:
        await database.aclose()
        engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    logging.getLogger("app").setLevel(settings.log_level)
    app = FastAPI(
        **api_info(),
        openapi_tags=[heroes_openapi.TAG],
        generate_unique_id_function=operation_id,
        docs_url=None,  # install_docs serves /docs and /redoc without a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=settings.max_body_size)
    app.state.settings = settings
    app.state.engine = create_db_engine(settings)
    app.state.database = create_database(app.state.engine, settings)
    app.dependency_overrides = DependencyOverrides()
    install_error_handlers(app)
    app.include_router(heroes_router)
    install_docs(app)
    return app


try:
    app = create_app()
except SettingsError as error:
    raise SystemExit(f"heroes: {error}") from None
