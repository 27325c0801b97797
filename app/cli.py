"""The `heroes` command: `heroes serve` runs the service with uvicorn; `migrate` and `seed`
(app/commands.py) manage its database."""

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from app.commands import CommandFailed, add_commands, run_command
from app.config import Settings, SettingsError, load_settings
from app.db.backends import create_db_engine
from app.db.schema import SchemaError, describe_database_error, prepare_database
from app.http.server import serve_protocol
from app.observability.logs import uvicorn_log_config
from app.observability.metrics import MULTIPROC_DIR_VARIABLE, prepare_multiprocess_directory


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """A usage error in one line, as every other error of the command."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="heroes", description="The heroes service.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--workers", type=int, help="worker processes (default: WEB_CONCURRENCY, or the CPUs)"
    )
    serve.add_argument("--reload", action="store_true", help="restart on code changes")
    add_commands(commands)
    return parser


def serve(host: str, port: int, workers: int | None, *, reload: bool) -> None:
    settings = load_settings()  # fail here, in one line, before any worker starts
    workers = 1 if reload else workers or settings.web_concurrency
    _prepare_schema(settings)
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
            # uvicorn would believe X-Forwarded-For from 127.0.0.1: any local hop's client
            # could then choose its own address, and with it its rate limit.
            proxy_headers=bool(settings.forwarded_allow_ips),
            forwarded_allow_ips=settings.forwarded_allow_ips,
            # uvicorn waits forever for a request's head, and httptools buffers it whole:
            # this protocol does neither, and lets go of a client that stops reading. h11
            # has the size limit built in; our protocol reads it from the same option.
            http=serve_protocol(settings.client_header_timeout, settings.client_send_timeout),
            h11_max_incomplete_event_size=settings.max_request_head_size,
        )


def _prepare_schema(settings: Settings) -> None:
    """Migrate (or check the schema) once, before any worker starts: a failure is then one
    line here, not a traceback from each worker's lifespan."""
    engine = create_db_engine(settings)
    try:
        prepare_database(engine, migrate=settings.migrate_on_start)
    except SQLAlchemyError as error:
        raise SchemaError(describe_database_error(error)) from None
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
    if args.command != "serve":
        try:
            run_command(args)
        except (SettingsError, CommandFailed) as error:
            sys.exit(f"heroes: {error}")
        return
    try:
        serve(args.host, args.port, args.workers, reload=args.reload)
    except (SettingsError, SchemaError) as error:
        sys.exit(f"heroes: {error}")
