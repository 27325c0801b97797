"""The application factory: settings -> database -> HTTP layer -> domains, and the lifespan.

Nothing happens at import: `create_app` only builds objects, and the module's `app` is
built when first asked for (by `uvicorn app.main:app` or `fastapi run`). What needs the
database, checking or migrating its schema, runs at start-up, and a failure there stops
the service with one line.
"""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from anyio import to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute

from app.auth import openapi as auth_openapi
from app.auth.passwords import Passwords
from app.auth.policy import Access, PolicyGuard
from app.auth.router import router as auth_router
from app.auth.throttle import SignInThrottle
from app.auth.tokens import AccessTokens
from app.changes import router as changes_router
from app.changes import stream as change_stream
from app.changes.middleware import NumberWrittenChanges
from app.config import Settings, SettingsError, load_settings
from app.db import Database, DatabaseUnavailable, backend_for
from app.db.schema import prepare_database
from app.health import openapi as health_openapi
from app.health.router import router as health_router
from app.heroes import openapi as heroes_openapi
from app.heroes.router import router as heroes_router
from app.http.body_limit import BodySizeLimitMiddleware
from app.http.dependencies import DependencyOverrides, HttpOptions, get_session
from app.http.docs import (
    DOCS_URL,
    REDOC_URL,
    STATIC_URL,
    SWAGGER_UI_PARAMETERS,
    api_info,
    operation_id,
    revalidate_assets,
)
from app.http.errors import UnhandledErrors, install_error_handlers
from app.http.head_limit import RequestHeadLimitMiddleware
from app.http.hosts import AllowedHostsMiddleware
from app.http.methods import install_path_methods
from app.http.ratelimit import Limiter, RateLimitMiddleware, create_limiter
from app.http.security import SecurityHeadersMiddleware
from app.http.shutdown import on_stop_signal
from app.http.startup import OneLineStartupFailure
from app.http.timeouts import BodyTimeoutMiddleware
from app.kit.changes import feed
from app.kit.changes.sequencer import Sequencer
from app.kit.changes.wakeups import Wakeups
from app.kit.changes.watch import ChangeWatch
from app.kit.listing.cursors import codec
from app.observability import metrics
from app.observability.logs import configure_logging, masked_url
from app.observability.middleware import ObserveRequests
from app.observability.router import router as metrics_router
from app.teams import openapi as teams_openapi
from app.teams.router import router as teams_router
from app.users import openapi as users_openapi
from app.users.router import router as users_router

__all__ = ["create_app", "get_session"]

POOL_SAMPLE_SECONDS = 1.0
WATCHED_PREFIXES = ("/heroes", "/teams")
"""Where writes record changes: their success wakes the feed's followers."""
PURGE_SECONDS = 60.0
logger = logging.getLogger("app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # Threads serve the backends SQLAlchemy runs (MariaDB); more than the pool's
    # connections would only queue inside the pool.
    to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
    logger.info("starting", extra={"fields": _startup_fields(settings)})
    if settings.jwt_secret is None and settings.environment == "development":
        # (Tests, ENVIRONMENT=test, use the same key without a word.)
        logger.warning(
            "JWT_SECRET is unset: access tokens are signed with the published development "
            "key, which protects nothing; set JWT_SECRET anywhere else"
        )
    await run_in_threadpool(prepare_database, app.state.engine, migrate=settings.migrate_on_start)
    _freeze_startup_objects()
    database: Database = app.state.database
    watch: ChangeWatch = app.state.changes_watch
    wakeups: Wakeups = app.state.change_wakeups
    sequencer: Sequencer = app.state.change_sequencer
    wakeups.start()
    # A stop signal ends the event streams at once (app/http/shutdown.py says why).
    restore_signals = on_stop_signal(watch.release)
    sampler = asyncio.create_task(_sample_pool(database))
    retention = timedelta(seconds=settings.changes_retention)
    purger = asyncio.create_task(_purge_changes(database, retention))
    try:
        yield
    finally:
        restore_signals()
        await sequencer.close()
        await wakeups.close()
        await watch.close()
        for task in (sampler, purger):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        limiter: Limiter | None = getattr(app.state, "rate_limiter", None)
        if limiter is not None:
            await limiter.close()
        access: Access = app.state.access
        await access.throttle.close()
        await database.aclose()
        app.state.engine.dispose()
        gc.unfreeze()  # an app started again in this process (tests) freezes anew


def _watch_changes(app: FastAPI, settings: Settings) -> None:
    """The app's sequencer, which numbers committed changes (app/kit/changes/sequencer.py);
    its watch on the change log (watch.py), which keeps each change's event encoded once;
    and what wakes its followers: the sequencer's rounds, and (with Redis, from the
    lifespan on) every other worker's."""
    options: HttpOptions = app.state.http_options
    encode = change_stream.encoder(codec(options.cursor_secret))
    database: Database = app.state.database

    def numbered() -> None:
        wakeups.numbered()

    sequencer = Sequencer(database, numbered)
    watch = ChangeWatch(database, settings.changes_poll_seconds, encode, sequencer)
    wakeups = Wakeups(
        watch, settings.redis_url, settings.redis_key_prefix + "changes", settings.redis_timeout
    )
    app.state.change_sequencer = sequencer
    app.state.changes_watch = watch
    app.state.change_wakeups = wakeups
    app.add_middleware(NumberWrittenChanges, sequencer=sequencer, prefixes=WATCHED_PREFIXES)


def _freeze_startup_objects() -> None:
    """Leave what start-up built (about 90,000 objects: modules, routes, models) out of
    every later garbage collection: a full collection that walked them all stopped the
    event loop for 90 ms, under load on a 2-core machine; without them, 4 ms
    (bench/PROFILE.md)."""
    gc.collect()
    gc.freeze()


def _startup_fields(settings: Settings) -> dict[str, object]:
    return {
        "database": masked_url(settings.database_url),
        "environment": settings.environment,
        "rate_limit": settings.rate_limit_per_second or "off",
        "redis": masked_url(settings.redis_url) if settings.redis_url else None,
    }


async def _sample_pool(database: Database) -> None:
    # Each worker reports its own pool: /metrics is answered by one worker but adds up all.
    while True:
        metrics.record_pool(database)
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


async def _purge_changes(database: Database, retention: timedelta) -> None:
    """Each worker purges the change log now and then: a purge finds little to delete,
    and several at once only wait for each other's row locks."""
    while True:
        await asyncio.sleep(PURGE_SECONDS)
        try:
            await feed.purge(database, retention)
        except DatabaseUnavailable:
            logger.warning("the change log could not be purged")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service as an ASGI app; builds objects only (no connection, no file)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    app = FastAPIOffline(
        **api_info(),
        openapi_tags=[
            heroes_openapi.TAG,
            teams_openapi.TAG,
            changes_router.TAG,
            users_openapi.TAG,
            auth_openapi.TAG,
            health_openapi.TAG,
        ],
        generate_unique_id_function=operation_id,
        docs_url=DOCS_URL,
        redoc_url=REDOC_URL,
        static_url=STATIC_URL,
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        lifespan=lifespan,
    )
    install_path_methods(app)
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=settings.max_body_size)
    app.add_middleware(BodyTimeoutMiddleware, timeout=settings.client_body_timeout)
    backend = backend_for(settings)
    app.state.settings = settings
    app.state.engine = backend.create_engine()
    app.state.database = backend.create_database(app.state.engine)
    secret = settings.cursor_secret
    app.state.http_options = HttpOptions(
        require_if_match=settings.require_if_match,
        cursor_secret=secret.get_secret_value() if secret is not None else None,
        require_idempotency_key=settings.require_idempotency_key,
        idempotency_key_ttl=settings.idempotency_key_ttl,
        idempotency_lease=settings.idempotency_lease,
        stream_heartbeat=settings.changes_heartbeat_seconds,
        send_timeout=settings.client_send_timeout,
    )
    _watch_changes(app, settings)
    app.state.access = _access(settings)
    _guard_by_policy(app, settings)
    app.dependency_overrides = DependencyOverrides()
    _add_production_middleware(app, settings)
    install_error_handlers(app)
    app.include_router(heroes_router)
    app.include_router(teams_router)
    app.include_router(changes_router.router)
    app.include_router(users_router)
    app.include_router(auth_router)
    app.include_router(health_router)
    app.include_router(metrics_router)
    _docs_last(app)
    revalidate_assets(app)
    auth_openapi.declare_security(app)
    app.add_middleware(OneLineStartupFailure)
    return app


def _guard_by_policy(app: FastAPI, settings: Settings) -> None:
    """When a policy asks for tokens, refuse requests to the resources without one."""
    if settings.read_policy != "anyone" or settings.write_policy != "anyone":
        app.add_middleware(
            PolicyGuard,
            access=app.state.access,
            database=app.state.database,
            prefixes=("/heroes", "/teams", "/changes"),
        )


def _access(settings: Settings) -> Access:
    """Who may read and write, and what checks and issues their credentials."""
    header = settings.rate_limit_client_header
    return Access(
        write_policy=settings.write_policy,
        read_policy=settings.read_policy,
        signup=settings.signup,
        tokens=AccessTokens(
            settings.signing_key, timedelta(minutes=settings.access_token_minutes)
        ),
        passwords=Passwords(),
        throttle=SignInThrottle.create(
            settings.sign_in_attempts,
            settings.sign_in_window_minutes,
            settings.redis_url,
            settings.redis_key_prefix,
            settings.redis_timeout,
        ),
        refresh_days=settings.refresh_token_days,
        client_header=header.encode("latin-1") if header else None,
    )


def _docs_last(app: FastAPI) -> None:
    """Match the API's routes before the docs pages FastAPIOffline added first: every
    route tried before the right one costs each request about a microsecond, twice
    (FastAPI 0.165 matches an included router's routes twice)."""
    docs = [route for route in app.router.routes if _is_docs(route)]
    app.router.routes[:] = [route for route in app.router.routes if not _is_docs(route)] + docs


def _is_docs(route: BaseRoute) -> bool:
    path: str = getattr(route, "path", "")
    return path.startswith((DOCS_URL, REDOC_URL, STATIC_URL))


def _add_production_middleware(app: FastAPI, settings: Settings) -> None:
    """Added innermost first: a request meets ObserveRequests, the security headers, the
    JSON 500 for an error nothing handled (inside those two, so that it carries their
    headers), the head's size limit (before anything reads a header), the allowed hosts,
    CORS, the rate limit and the body limit."""
    if settings.rate_limit_per_second > 0:
        app.state.rate_limiter = create_limiter(
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
            settings.redis_url,
            settings.redis_key_prefix,
            settings.redis_timeout,
        )
        exempt = frozenset({"/healthz", "/readyz", "/metrics"})
        app.add_middleware(
            RateLimitMiddleware,
            limiter=app.state.rate_limiter,
            client_header=settings.rate_limit_client_header,
            exempt=exempt,
        )
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE"],
            allow_headers=[
                "Content-Type",
                "X-Request-ID",
                "If-Match",
                "If-None-Match",
                "If-Modified-Since",
                "If-Unmodified-Since",
                "Prefer",
                "Idempotency-Key",
            ],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "ETag",
                "Last-Modified",
                "Location",
                "Link",
                "X-Total-Count",
                "Preference-Applied",
                "Idempotent-Replayed",
                "Changes-Position",
            ],
        )
    if "*" not in settings.allowed_hosts:
        app.add_middleware(AllowedHostsMiddleware, allowed=settings.allowed_hosts)
    app.add_middleware(
        RequestHeadLimitMiddleware,
        max_header_size=settings.max_header_size,
        max_head_size=settings.max_request_head_size,
    )
    app.add_middleware(UnhandledErrors)
    if settings.security_headers:
        # The docs pages run an inline script that a 'self' CSP would block.
        unrestricted = frozenset({DOCS_URL, REDOC_URL})
        app.add_middleware(SecurityHeadersMiddleware, unrestricted=unrestricted)
    app.add_middleware(ObserveRequests, routes=app.router.routes)


def __dir__() -> list[str]:
    """`app` among the module's names, for tools that look for it (`fastapi run`)."""
    return [*globals(), "app"]


def __getattr__(name: str) -> FastAPI:
    """`app`, built on first use from the environment's settings (PEP 562): importing this
    module reads nothing. A bad setting stops the process in one line."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        app = create_app()
    except SettingsError as error:
        raise SystemExit(f"heroes: {error}") from None
    globals()["app"] = app
    return app
