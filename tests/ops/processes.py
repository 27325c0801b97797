"""Real processes for the operations tests: the service under `heroes serve` (started the
one way, tests/service_process.py), and private PostgreSQL, Redis and nginx servers on free
loopback ports. Each can be stopped and started for real; none touches the machine's shared
servers."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import redis
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.conftest import skip_or_fail
from tests.service_process import REPO_ROOT, ServiceProcess, free_port, serve_command

REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


def wait_for(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds} s")


class Service(ServiceProcess):
    """`heroes serve`, its JSON log lines in a file: what the operations tests read of it."""

    def logs(self) -> list[dict[str, Any]]:
        lines = self.output().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def worker_pids(self) -> set[int]:
        started = [
            line for line in self.logs() if line["message"] == "Application startup complete."
        ]
        return {line["pid"] for line in started}

    def live_worker_pids(self) -> set[int]:
        return {pid for pid in self.worker_pids() if _alive(pid)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a worker that died but was not reaped yet is a zombie: not alive
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return status != "Z"


def start_service(
    database_url: str, directory: Path, *, workers: int | None = 1, **environment: str
) -> Service:
    """`workers=None` leaves the count to WEB_CONCURRENCY in `environment`."""
    if workers is None:
        command, count = serve_command(), int(environment["WEB_CONCURRENCY"])
    else:
        command, count = serve_command("--workers", str(workers)), workers
    # Migrating on start: some tests give the service a database of its own, still empty.
    settings: dict[str, str | None] = {
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
        "DB_MIGRATE_ON_START": "true",
        "PROMETHEUS_MULTIPROC_DIR": None,  # `heroes serve` makes its own for its workers
    }
    return Service.start(
        command,
        environment=settings | environment,
        log_path=directory / f"service-{uuid.uuid4().hex[:8]}.log",
        ready=lambda service: len(service.worker_pids()) >= count,
    )


def stop_service(service: Service, timeout: float = 30) -> int:
    """Its exit code; fails the test if it had to be killed after `timeout` seconds."""
    code = service.stop(timeout)
    assert code != -signal.SIGKILL, f"not stopped within {timeout} s:\n{service.output()}"
    return code


@contextmanager
def running_service(database_url: str, directory: Path, **options: Any) -> Iterator[Service]:
    service = start_service(database_url, directory, **options)
    try:
        yield service
    finally:
        stop_service(service)


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and the server refuse to run as root: run them as the `postgres` OS user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own: initdb into a temporary directory."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found:
            skip_or_fail("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) are missing")
        self.bin = found[-1].parent
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="heroes-pg-"))
        self.data = self.directory / "data"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run(  # noqa: S603
            _as_postgres(list(command)), check=True, capture_output=True, timeout=120
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        log = str(self.directory / "server.log")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", log, "-w", "-t", "60",
                  "-o", options, "start")  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
        subprocess.run(_as_postgres(command), capture_output=True, check=False, timeout=60)  # noqa: S603
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            skip_or_fail("redis-server is missing (bash .ci/redis installs it)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.binary is not None
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(self._answers, 10, "redis-server start")

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


SHIPPED_NGINX = REPO_ROOT / "deploy" / "nginx.conf"
NGINX_CONFIG = """
worker_processes 1;
daemon off;
master_process on;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    add_header X-Upstream $upstream_addr always;
    include {directory}/heroes.conf;
}}
"""


def shipped_nginx_config(upstreams: list[str], port: int) -> str:
    """deploy/nginx.conf with these upstreams, listening on 127.0.0.1:`port`."""
    shipped = SHIPPED_NGINX.read_text()
    placeholders = ("    server 127.0.0.1:8000;\n", "    listen 80;\n")
    assert all(shipped.count(each) == 1 for each in placeholders), "deploy/nginx.conf changed"
    servers = "".join(f"    server {upstream};\n" for upstream in upstreams)
    return shipped.replace(placeholders[0], servers).replace(
        placeholders[1], f"    listen 127.0.0.1:{port};\n"
    )


@contextmanager
def running_nginx(upstreams: list[str], directory: Path) -> Iterator[str]:
    """nginx as a child process (not a daemon) with the shipped configuration, balancing
    over `upstreams` (host:port)."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        skip_or_fail("nginx is missing (bash .ci/nginx installs Debian's package)")
    assert binary is not None
    port = free_port()
    (directory / "heroes.conf").write_text(shipped_nginx_config(upstreams, port))
    config = directory / "nginx.conf"
    config.write_text(NGINX_CONFIG.format(directory=directory))
    command = [binary, "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _proxying(base_url, process), 15, "nginx start")
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _proxying(base_url: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        assert process.stderr is not None
        raise AssertionError(f"nginx exited: {process.stderr.read().decode()}")
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def scrape(base_url: str) -> list[Sample]:
    response = httpx.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200
    return [
        each for family in text_string_to_metric_families(response.text) for each in family.samples
    ]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    matching = (
        each.value
        for each in samples
        if each.name == name and all(each.labels.get(k) == v for k, v in labels.items())
    )
    return float(sum(matching))
