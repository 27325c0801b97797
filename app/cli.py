"""The `heroes` command: `heroes serve` runs the service with uvicorn; `migrate` and `seed`
(app/commands.py) manage its database."""

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

import uvicorn

from app.commands import CommandFailed, add_commands, run_command
from app.core.config import SettingsError, load_settings


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
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument("--reload", action="store_true", help="restart on code changes")
    add_commands(commands)
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
    if args.command != "serve":
        try:
            run_command(args)
        except (SettingsError, CommandFailed) as error:
            sys.exit(f"heroes: {error}")
        return
    try:
        serve(args.host, args.port, args.workers, reload=args.reload)
    except SettingsError as error:
        sys.exit(f"heroes: {error}")
