"""The `heroes` command: `heroes serve` runs the service with uvicorn."""

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from app.core.config import SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heroes", description="The heroes service.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument("--reload", action="store_true", help="restart on code changes")
    return parser


def serve(host: str, port: int, workers: int, *, reload: bool) -> None:
    settings = load_settings()  # fail here, in one line, before any worker starts
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level=settings.log_level.lower(),
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        serve(args.host, args.port, args.workers, reload=args.reload)
    except SettingsError as error:
        sys.exit(f"heroes: {error}")
