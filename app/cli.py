"""The `heroes` command: `heroes serve` runs the service with uvicorn."""

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from sqlalchemy.exc import OperationalError

from app.core.config import Settings, SettingsError, load_settings
from app.core.db import create_db_and_tables, create_db_engine
from app.heroes import models as _hero_models  # noqa: F401  # puts the tables in the metadata
from app.observability.logs import uvicorn_log_config
from app.observability.metrics import MULTIPROC_DIR_VARIABLE, prepare_multiprocess_directory


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heroes", description="The heroes service.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--workers", type=int, help="worker processes (default: WEB_CONCURRENCY, or the CPUs)"
    )
    serve.add_argument("--reload", action="store_true", help="restart on code changes")
    return parser


def serve(host: str, port: int, workers: int | None, *, reload: bool) -> None:
    settings = load_settings()  # fail here, in one line, before any worker starts
    workers = 1 if reload else workers or settings.web_concurrency
    if workers > 1:
        _create_tables(settings)
    with _metrics_shared_by(workers):
        uvicorn.run(
            "app.main:app",
            host=host,
            port=port,
            workers=workers,
            reload=reload,
            log_level=settings.log_level.lower(),
            log_config=uvicorn_log_config(settings.log_level),
            access_log=False,  # the app logs each request itself, with its id
            timeout_graceful_shutdown=settings.graceful_timeout,
        )


def _create_tables(settings: Settings) -> None:
    """Once, before the workers start: each would create the tables at startup, and two
    doing so at once on an empty database fail ("already exists")."""
    engine = create_db_engine(settings)
    try:
        create_db_and_tables(engine)
    finally:
        engine.dispose()


@contextmanager
def _metrics_shared_by(workers: int) -> Iterator[None]:
    """Give several workers one directory for their metrics (see app/observability/metrics.py)."""
    given = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if given:
        prepare_multiprocess_directory(Path(given))
        yield
        return
    if workers == 1:
        yield
        return
    directory = tempfile.mkdtemp(prefix="heroes-metrics-")
    os.environ[MULTIPROC_DIR_VARIABLE] = directory  # inherited by the workers
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        serve(args.host, args.port, args.workers, reload=args.reload)
    except SettingsError as error:
        sys.exit(f"heroes: {error}")
    except OperationalError as error:  # creating the tables before the workers start
        sys.exit(f"heroes: cannot reach the database: {type(error.orig).__name__}")
