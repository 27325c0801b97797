"""The service as a process of its own, the one way the tests and the benchmarks run it:
on a free loopback port, started, waited for until it answers, and stopped.

What differs between callers is given as arguments: the command (`heroes serve`, or uvicorn
with a benchmark's flags), the environment, where its output goes and what "answers" means.
Imports nothing of the suite's fixtures, so `bench/*.py` use it as `tests.service_process`.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import httpx2 as httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


class ServiceDidNotStart(RuntimeError):
    """It exited, or did not answer in time; the message ends with its output."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def serve_command(*options: str) -> list[str]:
    """`heroes serve`, through our interpreter (`python -m app serve`)."""
    return [sys.executable, "-m", "app", "serve", *options]


def uvicorn_command(target: str = "app.main:app", *options: str) -> list[str]:
    """uvicorn on an ASGI app (`module:attribute`), as a deployment without the CLI runs it."""
    return [sys.executable, "-m", "uvicorn", target, *options]


def _environment(changes: Mapping[str, str | None], *, inherit: bool) -> dict[str, str]:
    """This process's environment (or none, if not `inherit`) with `changes`: a value of
    None removes the variable."""
    environment = dict(os.environ) if inherit else {}
    for name, value in changes.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


@dataclass
class ServiceProcess:
    """A server started by `start`, in a process group of its own so that it stops whole."""

    command: list[str]
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path | None  # None: its output went to ours

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @classmethod
    def start(
        cls,
        command: Sequence[str],
        *,
        environment: Mapping[str, str | None] | None = None,
        inherit_environment: bool = True,
        log_path: Path | None = None,
        ready_path: str = "/healthz",
        ready: Callable[[Self], bool] | None = None,
        seconds: float = 60,
        cwd: Path = REPO_ROOT,
    ) -> Self:
        """Run `command --host 127.0.0.1 --port <free port>` from `cwd` (the repository's
        root unless another tree is served) and return once GET `ready_path` answers 200
        and `ready` (if given) holds.

        `log_path` receives its stdout and stderr; `environment` changes ours for it (or,
        with `inherit_environment=False`, is all it gets)."""
        port = free_port()
        full_command = [*command, "--host", HOST, "--port", str(port)]
        with contextlib.ExitStack() as files:
            log = None if log_path is None else files.enter_context(log_path.open("wb"))
            process = subprocess.Popen(  # noqa: S603  # our interpreter and arguments
                full_command,
                cwd=cwd,
                env=_environment(environment or {}, inherit=inherit_environment),
                stdout=log,
                stderr=None if log is None else subprocess.STDOUT,
                start_new_session=True,
            )
        service = cls(full_command, process, port, log_path)
        try:
            service._wait_until_ready(ready_path, ready, seconds)
        except BaseException:
            service.kill()
            raise
        return service

    def _wait_until_ready(
        self, path: str, ready: Callable[[Self], bool] | None, seconds: float
    ) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceDidNotStart(self._said(f"exited with {self.process.returncode}"))
            if self.answers(path) and (ready is None or ready(self)):
                return
            time.sleep(0.1)
        raise ServiceDidNotStart(self._said(f"did not answer {path} within {seconds} s"))

    def answers(self, path: str = "/healthz") -> bool:
        try:
            return httpx.get(f"{self.base_url}{path}", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def output(self) -> str:
        if self.log_path is None:
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _said(self, what: str) -> str:
        tail = "\n".join(self.output().splitlines()[-40:])
        return f"`{' '.join(self.command)}` {what}" + (f":\n{tail}" if tail else "")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as a deployment stops it (uvicorn lets accepted requests finish and stops
        its workers); killed, with whatever is left of its group, after `timeout` seconds.
        Its exit code: -9 when it had to be killed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        self.kill()
        code = self.process.poll()
        return -signal.SIGKILL if code is None else code

    def kill(self) -> None:
        """SIGKILL to the whole group: the workers too, should the master have gone first."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
