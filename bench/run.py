"""Benchmark the heroes service against the tutorial's app and two ceilings, with wrk.

    .venv/bin/python bench/run.py            # the full matrix (see --help for its length)
    .venv/bin/python bench/run.py --repetitions 1 --duration 2 --databases sqlite \\
        --workers 1 --connections 64         # a smoke run

Apps (each under `python -m uvicorn MODULE:app --workers N --host 127.0.0.1 --port P
--log-level warning`, cwd = the repository):

- service:  app.main:app, the service as it is, configured only by DATABASE_URL
- tutorial: bench.tutorial_app:app, the FastAPI tutorial's app as published (the baseline)
- constant: bench.constant_app:app, FastAPI returning a constant hero (framework ceiling)
- raw:      bench.raw_app:app, raw ASGI + sqlite3/asyncpg + orjson (hardware ceiling)

Order of work: for each repetition, for each database, for each worker count, the apps
take turns (their order rotates every repetition). Each turn resets and seeds that app's
table, starts the app, checks that every endpoint answers 2xx, warms up, reads the RSS
of each worker, runs wrk for every connection count and endpoint, reads the RSS again and
stops the app. Only one app runs at a time, so no app's connection pool or CPU use
weighs on another's measurement. An app that stops answering (the tutorial's does under
concurrent writes) is marked stalled and restarted before the next run. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import itertools
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

from tests.service_process import ServiceProcess, uvicorn_command

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WRK_DIR = BENCH / "wrk"
SEED_ROWS = 10_000
MB = 1_000_000  # the "90 MB" is read as 10^6 bytes

DATABASES = ("sqlite", "postgresql")
APPS = ("service", "tutorial", "constant", "raw")
ENDPOINTS = ("get_one", "list", "post", "patch", "search")
# The filtered, sorted page (issue 5); the tutorial's app has no filters.
SEARCH_PATH = "/heroes/?min_age=20&max_age=60&sort=-age,name&limit=100"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/bench"

# Seconds each app turn costs beyond its timed runs (start, checks, stop), and each run
# beyond its duration (wrk start-up, the settle pause): used for the time estimate.
TURN_OVERHEAD_S = 3.0
RUN_OVERHEAD_S = 0.25
SETUP_S = 3.0  # creating one app's table
STOP_TIMEOUT_S = 5
SERVER_NUMBERS = itertools.count(1)  # names each server's log file
WARMUP_CONNECTIONS = 8  # few enough that no app's pool runs dry while warming up


@dataclass(frozen=True)
class Endpoint:
    name: str
    title: str
    script: str


ENDPOINT_INFO = {
    "get_one": Endpoint("get_one", "GET one", "get_one.lua"),
    "list": Endpoint("list", "GET list of 100", "list.lua"),
    "post": Endpoint("post", "POST", "post.lua"),
    "patch": Endpoint("patch", "PATCH", "patch.lua"),
    "search": Endpoint("search", "GET filtered sorted list of 100", "search.lua"),
}


@dataclass(frozen=True)
class AppInfo:
    name: str
    module: str
    endpoints: tuple[str, ...]
    uses_database: bool


APP_INFO = {
    "service": AppInfo("service", "app.main:app", ENDPOINTS, uses_database=True),
    "tutorial": AppInfo("tutorial", "bench.tutorial_app:app", ENDPOINTS[:-1], uses_database=True),
    "constant": AppInfo("constant", "bench.constant_app:app", ("get_one",), uses_database=False),
    "raw": AppInfo("raw", "bench.raw_app:app", ENDPOINTS, uses_database=True),
}


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    connect_errors: int = 0
    read_errors: int = 0
    write_errors: int = 0
    timeouts: int = 0
    # The app did not answer a GET within 2 s after the run: it was restarted before the
    # next run. wrk counts no timeout for a request that never gets an answer.
    stalled: bool = False

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts


@dataclass
class Memory:
    before: list[float]  # RSS of each worker in MB, after the warm-up
    after: list[float]  # the same workers after the timed runs


@dataclass
class Results:
    # (database, workers, connections, endpoint, app) -> one result per repetition
    runs: dict[tuple[str, int, int, str, str], list[WrkResult]] = field(default_factory=dict)
    # (database, workers, app) -> one Memory per repetition
    memory: dict[tuple[str, int, str], list[Memory]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Options:
    duration: int
    warmup: int
    pause: float
    timeout: str
    repetitions: int
    databases: list[str]
    workers: list[int]
    connections: list[int]
    endpoints: list[str]
    apps: list[str]
    output: Path
    postgres_url: str
    title: str


# --------------------------------------------------------------------------- command line


def estimate_seconds(options: Options) -> float:
    """How long a run with these options takes, roughly: a turn per app per combination."""
    per_repetition = 0.0
    for app in options.apps:
        count = len([e for e in options.endpoints if e in APP_INFO[app].endpoints])
        if not count:
            continue
        turn = (
            TURN_OVERHEAD_S
            + count * (options.warmup + RUN_OVERHEAD_S)
            + count
            * len(options.connections)
            * (options.duration + options.pause + RUN_OVERHEAD_S)
        )
        per_repetition += turn * len(options.databases) * len(options.workers)
    tables = len(options.databases) * len([a for a in options.apps if APP_INFO[a].uses_database])
    return options.repetitions * per_repetition + tables * SETUP_S


def csv_list(kind: Callable[[str], Any], choices: Sequence[Any] | None = None) -> Any:
    def parse(text: str) -> list[Any]:
        values = [kind(part.strip()) for part in text.split(",") if part.strip()]
        if not values:
            raise argparse.ArgumentTypeError("give at least one value")
        if choices is not None:
            unknown = [value for value in values if value not in choices]
            if unknown:
                raise argparse.ArgumentTypeError(
                    f"unknown {unknown}; choose from {', '.join(map(str, choices))}"
                )
        return values

    return parse


DEFAULT_DURATION = 3
DEFAULT_WARMUP = 1
DEFAULT_PAUSE = 0.2
DEFAULT_REPETITIONS = 3


def parse_args(argv: Sequence[str] | None) -> Options:
    full = Options(
        duration=DEFAULT_DURATION,
        warmup=DEFAULT_WARMUP,
        pause=DEFAULT_PAUSE,
        timeout="2s",
        repetitions=DEFAULT_REPETITIONS,
        databases=list(DATABASES),
        workers=[1, 2],
        connections=[64, 256],
        endpoints=list(ENDPOINTS),
        apps=list(APPS),
        output=BENCH / "RESULTS.md",
        postgres_url=DEFAULT_POSTGRES,
        title="",
    )
    minutes = estimate_seconds(full) / 60
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=(
            "Benchmark the heroes service against the tutorial's app, a FastAPI constant "
            "endpoint and a raw ASGI app, with wrk; write a Markdown report. With no "
            f"options it runs the full matrix: about {minutes:.0f} minutes on a 2-core "
            f"machine ({DEFAULT_REPETITIONS} repetitions x 2 databases x 2 worker counts x "
            f"2 connection counts, {DEFAULT_DURATION:g} s per wrk run)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--duration", type=int, default=DEFAULT_DURATION, help="seconds per wrk run"
    )
    parser.add_argument(
        "--warmup", type=int, default=DEFAULT_WARMUP, help="seconds of warm-up per endpoint"
    )
    parser.add_argument(
        "--pause", type=float, default=DEFAULT_PAUSE, help="seconds of rest between runs"
    )
    parser.add_argument(
        "--timeout", default="2s", help="wrk --timeout: a slower answer counts as a timeout"
    )
    parser.add_argument(
        "--repetitions", type=int, default=DEFAULT_REPETITIONS, help="interleaved repetitions"
    )
    parser.add_argument(
        "--databases",
        type=csv_list(str, DATABASES),
        default=list(DATABASES),
        help="comma-separated",
    )
    parser.add_argument(
        "--workers",
        type=csv_list(int),
        default=[1, 2],
        help="uvicorn worker counts, comma-separated",
    )
    parser.add_argument(
        "--connections",
        type=csv_list(int),
        default=[64, 256],
        help="wrk connection counts, comma-separated",
    )
    parser.add_argument(
        "--endpoints",
        type=csv_list(str, ENDPOINTS),
        default=list(ENDPOINTS),
        help="comma-separated",
    )
    parser.add_argument(
        "--apps", type=csv_list(str, APPS), default=list(APPS), help="comma-separated"
    )
    parser.add_argument(
        "--output", type=Path, default=BENCH / "RESULTS.md", help="Markdown report to write"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="PostgreSQL database to use, created when missing (env BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--title", default="", help="a line saying what kind of run this is")
    args = parser.parse_args(argv)
    if args.repetitions < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("--repetitions and --duration must be at least 1, --warmup at least 0")
    if any(c < 2 for c in args.connections):
        parser.error("wrk needs at least as many connections as its 2 threads")
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        pause=args.pause,
        timeout=args.timeout,
        repetitions=args.repetitions,
        databases=args.databases,
        workers=args.workers,
        connections=args.connections,
        endpoints=args.endpoints,
        apps=args.apps,
        output=args.output,
        postgres_url=args.postgres_url,
        title=args.title,
    )


# --------------------------------------------------------------------------- wrk


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: installing Debian's package")
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(install, check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk is still missing after apt-get install wrk")
    return found


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    def number(pattern: str) -> str | None:
        match = re.search(pattern, output, re.MULTILINE)
        return match.group(1) if match else None

    rps = number(r"^Requests/sec:\s+([\d.]+)")
    requests = number(r"^\s*(\d+) requests in")
    p50 = number(r"^\s*50(?:\.000)?%\s+(\S+)")
    p99 = number(r"^\s*99(?:\.000)?%\s+(\S+)")
    if rps is None or requests is None:
        raise ValueError(f"unreadable wrk output:\n{output}")
    answered = int(requests) > 0
    result = WrkResult(
        rps=float(rps),
        requests=int(requests),
        p50_ms=parse_duration_ms(p50) if p50 and answered else float("nan"),
        p99_ms=parse_duration_ms(p99) if p99 and answered else float("nan"),
        non_2xx=int(number(r"Non-2xx or 3xx responses:\s+(\d+)") or 0),
    )
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors:
        result.connect_errors, result.read_errors, result.write_errors, result.timeouts = (
            int(value) for value in errors.groups()
        )
    return result


@dataclass(frozen=True)
class WrkRun:
    port: int
    endpoint: str
    connections: int
    seconds: int
    timeout: str


def run_wrk(wrk: str, run: WrkRun) -> WrkResult:
    command = [
        wrk,
        "-t",
        "2",
        "-c",
        str(run.connections),
        "-d",
        f"{run.seconds}s",
        "--timeout",
        run.timeout,
        "--latency",
        "-s",
        str(WRK_DIR / ENDPOINT_INFO[run.endpoint].script),
        f"http://127.0.0.1:{run.port}/",
        "--",
        str(SEED_ROWS),
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=run.seconds + 60
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk(completed.stdout)


# --------------------------------------------------------------------------- databases


def log(message: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def with_search_path(url: str, schema: str, scheme: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query)
    query.append(("options", f"-csearch_path={schema}"))
    return parts._replace(scheme=scheme, query=urllib.parse.urlencode(query)).geturl()


def psycopg_url(url: str) -> str:
    """The URL as libpq reads it (no SQLAlchemy driver suffix)."""
    parts = urllib.parse.urlsplit(url)
    return parts._replace(scheme="postgresql").geturl()


class Databases:
    """Where each app keeps its heroes: a SQLite file each, or a schema each in `bench`."""

    def __init__(self, postgres_url: str, workdir: Path) -> None:
        self.postgres_url = psycopg_url(postgres_url)
        self.workdir = workdir

    def schema(self, app: str) -> str:
        return f"bench_{app}"

    def sqlite_path(self, app: str) -> Path:
        return self.workdir / f"{app}.db"

    def url(self, database: str, app: str) -> str:
        if database == "sqlite":
            return f"sqlite:///{self.sqlite_path(app)}"
        # The tutorial's SQLAlchemy needs the driver named; the service maps postgresql://
        # to psycopg itself; the raw app turns the options into asyncpg server settings.
        scheme = "postgresql+psycopg" if app == "tutorial" else "postgresql"
        return with_search_path(self.postgres_url, self.schema(app), scheme)

    def ensure_postgres_database(self) -> None:
        parts = urllib.parse.urlsplit(self.postgres_url)
        name = parts.path.lstrip("/")
        admin = parts._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                log(f"creating PostgreSQL database {name!r}")
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def create_table(self, database: str, app: str) -> None:
        """A fresh, empty hero table, created by the app's own code (create_all, migrations)."""
        if database == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.sqlite_path(app)}{suffix}").unlink(missing_ok=True)
        else:
            with psycopg.connect(self.postgres_url, autocommit=True) as connection:
                schema = sql.Identifier(self.schema(app))
                connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
                connection.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        if app == "tutorial":
            code = "import bench.tutorial_app as t; t.create_db_and_tables()"
        else:
            # The raw app reads and writes the service's table: same migrations.
            code = (
                "from app.config import load_settings\n"
                "from app.db.backends import create_db_engine\n"
                "from app.db.migrator import upgrade\n"
                "upgrade(create_db_engine(load_settings()))\n"
            )
        env = {**os.environ, "DATABASE_URL": self.url(database, app)}
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)

    def seed(self, database: str, app: str) -> None:
        """Empty the app's table and insert SEED_ROWS heroes with ids 1..SEED_ROWS."""
        if database == "sqlite":
            rows = [(i, f"Hero {i}", i % 100, f"Secret {i}") for i in range(1, SEED_ROWS + 1)]
            lite = sqlite3.connect(self.sqlite_path(app), isolation_level=None)
            try:
                lite.execute("BEGIN")
                lite.execute("DELETE FROM hero")
                has_sequence = lite.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
                ).fetchone()
                if has_sequence:
                    lite.execute("DELETE FROM sqlite_sequence WHERE name = 'hero'")
                lite.executemany(
                    "INSERT INTO hero (id, name, age, secret_name) VALUES (?, ?, ?, ?)", rows
                )
                lite.execute("COMMIT")
                lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                lite.close()
            return
        with psycopg.connect(self.postgres_url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema(app)))
            )
            connection.execute("TRUNCATE hero RESTART IDENTITY")
            connection.execute(
                "INSERT INTO hero (name, age, secret_name) "
                "SELECT 'Hero ' || g, g %% 100, 'Secret ' || g "
                "FROM generate_series(1, %s) AS g ORDER BY g",
                (SEED_ROWS,),
            )
            connection.execute("VACUUM ANALYZE hero")


# --------------------------------------------------------------------------- apps


def http(
    method: str, port: int, path: str, body: dict[str, Any] | None = None, timeout: float = 10
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # always http://127.0.0.1
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


class Server:
    """One app under uvicorn, started, waited for and stopped as the tests run the service
    (tests/service_process.py): in its own process group, so that it stops whole."""

    def __init__(self, app: AppInfo, workers: int, database_url: str | None, logdir: Path):
        self.app = app
        self.workers = workers
        options = ("--workers", str(workers), "--log-level", "warning")
        self.service = ServiceProcess.start(
            uvicorn_command(app.module, *options),
            environment={"DATABASE_URL": database_url},  # None: no DATABASE_URL at all
            log_path=logdir / f"{app.name}-{workers}w-{next(SERVER_NUMBERS)}.log",
            ready_path="/heroes/1",
            ready=lambda service: len(worker_processes(service.process)) == workers,
            seconds=90,
        )
        # Other workers may still be importing: give them a moment.
        time.sleep(1.0 if workers > 1 else 0.2)

    @property
    def port(self) -> int:
        return self.service.port

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.service.process

    def worker_processes(self) -> list[psutil.Process]:
        return worker_processes(self.process)

    def rss_mb(self) -> list[float]:
        sizes = []
        for process in self.worker_processes():
            with contextlib.suppress(psutil.Error):
                sizes.append(process.memory_info().rss / MB)
        return sorted(sizes)

    def healthy(self) -> bool:
        try:
            status, _ = http("GET", self.port, "/heroes/1", timeout=2)
        except OSError:
            return False
        return status == 200

    def stop(self, *, graceful: bool = True) -> None:
        if not graceful:
            self.service.kill()
        elif self.service.stop(timeout=STOP_TIMEOUT_S) == -signal.SIGKILL:
            log(f"{self.app.name} did not stop in {STOP_TIMEOUT_S} s: killed it")


def worker_processes(master_process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    try:
        master = psutil.Process(master_process.pid)
        children = master.children()
    except psutil.NoSuchProcess:
        return []
    workers = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if "resource_tracker" not in " ".join(child.cmdline()):
                workers.append(child)
    # With --workers 1 uvicorn serves from the master process itself.
    return workers or [master]


def check_endpoints(server: Server, endpoints: Sequence[str]) -> None:
    """Every endpoint answers 2xx with the service's JSON shape, before any timing."""
    shape = {"id", "name", "age"}
    checks: dict[str, tuple[str, str, dict[str, Any] | None]] = {
        "get_one": ("GET", "/heroes/1", None),
        "list": ("GET", "/heroes/?offset=0&limit=100", None),
        "post": ("POST", "/heroes/", {"name": "Check", "age": 1, "secret_name": "Check"}),
        "patch": ("PATCH", "/heroes/1", {"age": 31}),
        "search": ("GET", SEARCH_PATH, None),
    }
    for endpoint in endpoints:
        method, path, body = checks[endpoint]
        status, answer = http(method, server.port, path, body)
        if not 200 <= status < 300:
            raise RuntimeError(f"{server.app.name}: {method} {path} answered {status}: {answer}")
        if endpoint in {"list", "search"}:
            ok = isinstance(answer, list) and len(answer) == 100
            ok = ok and all(isinstance(item, dict) and set(item) == shape for item in answer)
        else:
            ok = isinstance(answer, dict) and set(answer) == shape
        if endpoint == "search" and ok:
            keys = [(-item["age"], item["name"], item["id"]) for item in answer]
            ok = keys == sorted(keys) and all(20 <= item["age"] <= 60 for item in answer)
        if endpoint == "patch" and ok:
            ok = answer["age"] == 31
        if not ok:
            raise RuntimeError(f"{server.app.name}: {method} {path} answered {answer!r:.200}")


# --------------------------------------------------------------------------- the run


def rotated(items: Sequence[str], by: int) -> list[str]:
    if not items:
        return []
    shift = by % len(items)
    return [*items[shift:], *items[:shift]]


class Bench:
    def __init__(self, options: Options, wrk: str, workdir: Path) -> None:
        self.options = options
        self.wrk = wrk
        self.databases = Databases(options.postgres_url, workdir)
        self.results = Results()

    def run(self) -> Results:
        options = self.options
        for database in options.databases:
            if database == "postgresql":
                self.databases.ensure_postgres_database()
            for app in options.apps:
                if APP_INFO[app].uses_database:
                    log(f"creating the {app} table on {database}")
                    self.databases.create_table(database, app)
        total = estimate_seconds(options) / 60
        started = time.monotonic()
        log(f"estimated duration: {total:.1f} min")
        for repetition in range(options.repetitions):
            for database in options.databases:
                for workers in options.workers:
                    for app in rotated(options.apps, repetition):
                        elapsed = (time.monotonic() - started) / 60
                        log(
                            f"rep {repetition + 1}/{options.repetitions} {database} "
                            f"{workers}w {app} ({elapsed:.1f} of ~{total:.1f} min)"
                        )
                        self.turn(database, workers, APP_INFO[app])
        return self.results

    def start(self, info: AppInfo, workers: int, url: str | None, warm: Sequence[str]) -> Server:
        """Start the app, check each endpoint once, then warm up those in `warm`."""
        endpoints = [e for e in self.options.endpoints if e in info.endpoints]
        server = Server(info, workers, url, self.databases.workdir)
        try:
            check_endpoints(server, endpoints)
            for endpoint in warm if self.options.warmup > 0 else []:
                warmup = WrkRun(
                    server.port,
                    endpoint,
                    WARMUP_CONNECTIONS,
                    self.options.warmup,
                    self.options.timeout,
                )
                run_wrk(self.wrk, warmup)
        except BaseException:
            server.stop(graceful=False)
            raise
        return server

    def turn(self, database: str, workers: int, info: AppInfo) -> None:
        """Seed, start, check, warm up, measure and stop one app."""
        options = self.options
        endpoints = [e for e in options.endpoints if e in info.endpoints]
        if not endpoints:
            return
        url = None
        if info.uses_database:
            self.databases.seed(database, info.name)
            url = self.databases.url(database, info.name)
        server = self.start(info, workers, url, warm=endpoints)
        try:
            before = server.rss_mb()
            for connections in options.connections:
                for endpoint in endpoints:
                    if server.process.poll() is not None or not server.healthy():
                        log(f"  {info.name} stalled: restarting it")
                        self.results.notes.append(
                            f"{info.name} on {DB_TITLE[database]} with {workers} worker(s) "
                            f"stopped answering and was restarted before {connections}-"
                            f"connection {ENDPOINT_INFO[endpoint].title}"
                        )
                        server.stop(graceful=False)
                        server = self.start(info, workers, url, warm=[endpoint])
                    time.sleep(options.pause)
                    run = WrkRun(
                        server.port, endpoint, connections, options.duration, options.timeout
                    )
                    result = run_wrk(self.wrk, run)
                    result.stalled = not server.healthy()
                    key = (database, workers, connections, endpoint, info.name)
                    self.results.runs.setdefault(key, []).append(result)
                    log(
                        f"  {connections:>4} conns {endpoint:<8} {result.rps:>9.0f} rps "
                        f"p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms "
                        f"non-2xx {result.non_2xx} socket errors {result.socket_errors}"
                        + (" STALLED" if result.stalled else "")
                    )
            after = server.rss_mb()
        finally:
            server.stop(graceful=server.healthy())
        self.results.memory.setdefault((database, workers, info.name), []).append(
            Memory(before=before, after=after)
        )


# --------------------------------------------------------------------------- the report


def median(values: Sequence[float]) -> float:
    """The median of the values that are numbers (a run with no answer has no latency)."""
    numbers = [value for value in values if not math.isnan(value)]
    return statistics.median(numbers) if numbers else math.nan


def ratios(
    results: Results, key: tuple[str, int, int, str], app: str, other: str, other_endpoint: str
) -> list[float]:
    """Per-repetition rps ratios of `app` at key to `other` at other_endpoint."""
    database, workers, connections, endpoint = key
    mine = results.runs.get((database, workers, connections, endpoint, app), [])
    theirs = results.runs.get((database, workers, connections, other_endpoint, other), [])
    # A stalled app that answered nothing divides into infinity; both stalled: no ratio.
    return [
        a.rps / b.rps if b.rps > 0 else math.inf
        for a, b in zip(mine, theirs, strict=False)
        if a.rps > 0 or b.rps > 0
    ]


def fmt_ratio(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    each = ", ".join(fmt_x(value) for value in values)
    return f"**{fmt_x(median(values))}** ({each})"


def fmt_x(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"


def fmt_number(value: float, digits: int = 0) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def machine_lines() -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    packages = []
    for name in (
        "fastapi", "starlette", "pydantic", "sqlmodel", "sqlalchemy", "uvicorn", "uvloop",
        "httptools", "psycopg", "asyncpg", "orjson",
    ):  # fmt: skip
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            packages.append(f"{name} {importlib.metadata.version(name)}")
    wrk_version = subprocess.run(
        ["wrk", "-v"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"- CPU: {os.cpu_count()} x {cpu}; memory {memory:.1f} GiB; load average at the end "
        f"{load}",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}; "
        f"{wrk_version[0] if wrk_version else 'wrk ?'}",
        f"- Packages: {', '.join(packages)}",
    ]


def postgres_version(url: str) -> str:
    try:
        with psycopg.connect(psycopg_url(url), connect_timeout=3) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            return f"PostgreSQL {row[0]}" if row else "PostgreSQL ?"
    except psycopg.Error:
        return "PostgreSQL unreachable"


DB_TITLE = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def combination_table(
    options: Options, results: Results, database: str, workers: int, connections: int
) -> list[str]:
    lines = [
        f"### {DB_TITLE[database]}, {workers} worker(s), {connections} connections",
        "",
        "| endpoint | app | rps (median) | rps per repetition | p50 ms | p99 ms "
        "| non-2xx | socket errors c/r/w/timeout | stalled |",
        "|---|---|--:|---|--:|--:|--:|---|--:|",
    ]
    for endpoint in options.endpoints:
        for app in options.apps:
            runs = results.runs.get((database, workers, connections, endpoint, app))
            if not runs:
                continue
            per_rep = ", ".join(f"{run.rps:,.0f}" for run in runs)
            errors = "/".join(
                str(sum(getattr(run, name) for run in runs))
                for name in ("connect_errors", "read_errors", "write_errors", "timeouts")
            )
            lines.append(
                f"| {ENDPOINT_INFO[endpoint].title} | {app} "
                f"| {fmt_number(median([r.rps for r in runs]))} | {per_rep} "
                f"| {fmt_number(median([r.p50_ms for r in runs]), 2)} "
                f"| {fmt_number(median([r.p99_ms for r in runs]), 2)} "
                f"| {sum(r.non_2xx for r in runs)} | {errors} "
                f"| {sum(r.stalled for r in runs)} |"
            )
    lines += [
        "",
        "Service rps over each other app's (median **bold**, then each repetition; the "
        "constant app's GET one is the ceiling for every endpoint):",
        "",
        "| endpoint | service / constant | service / raw | service / tutorial |",
        "|---|---|---|---|",
    ]
    for endpoint in options.endpoints:
        key = (database, workers, connections, endpoint)
        lines.append(
            f"| {ENDPOINT_INFO[endpoint].title} "
            f"| {fmt_ratio(ratios(results, key, 'service', 'constant', 'get_one'))} "
            f"| {fmt_ratio(ratios(results, key, 'service', 'raw', endpoint))} "
            f"| {fmt_ratio(ratios(results, key, 'service', 'tutorial', endpoint))} |"
        )
    lines.append("")
    return lines


def memory_table(options: Options, results: Results) -> list[str]:
    lines = [
        "## Resident memory per worker (MB = 10^6 bytes)",
        "",
        "Each worker's RSS after the warm-up (before) and after all timed runs of its turn "
        "(after); each repetition starts the app anew. Cells list the workers, one "
        "repetition per group.",
        "",
        "| database | workers | app | before | after | largest | largest growth |",
        "|---|--:|---|---|---|--:|--:|",
    ]
    for database in options.databases:
        for workers in options.workers:
            for app in options.apps:
                memories = results.memory.get((database, workers, app))
                if not memories:
                    continue
                before = "; ".join(" ".join(f"{v:.0f}" for v in m.before) for m in memories)
                after = "; ".join(" ".join(f"{v:.0f}" for v in m.after) for m in memories)
                largest = max((v for m in memories for v in m.after + m.before), default=0.0)
                growth = max(
                    (a - b for m in memories for a, b in zip(m.after, m.before, strict=False)),
                    default=0.0,
                )
                lines.append(
                    f"| {DB_TITLE[database]} | {workers} | {app} | {before} | {after} "
                    f"| {largest:.0f} | {growth:+.1f} |"
                )
    lines.append("")
    return lines


@dataclass
class Target:
    text: str
    where: str
    measured: str
    met: bool | None  # None: not measured in this run


@dataclass(frozen=True)
class RatioTarget:
    text: str
    databases: tuple[str, ...]
    endpoint: str
    other: str  # the app the service is compared with
    other_endpoint: str
    threshold: float


RATIO_TARGETS = (
    RatioTarget("GET one >= 0.5x constant", ("sqlite",), "get_one", "constant", "get_one", 0.5),
    RatioTarget("GET one >= 0.5x raw", ("postgresql",), "get_one", "raw", "get_one", 0.5),
    RatioTarget("GET one >= 5x tutorial", DATABASES, "get_one", "tutorial", "get_one", 5.0),
    RatioTarget(
        "GET list of 100 >= 0.25x constant", ("sqlite",), "list", "constant", "get_one", 0.25
    ),
    RatioTarget("POST >= 2x tutorial", DATABASES, "post", "tutorial", "post", 2.0),
    RatioTarget("PATCH >= 2x tutorial", DATABASES, "patch", "tutorial", "patch", 2.0),
)


def ratio_targets(options: Options, results: Results, spec: RatioTarget) -> list[Target]:
    found = []
    for database in spec.databases:
        if database not in options.databases or spec.endpoint not in options.endpoints:
            continue
        for workers in options.workers:
            for connections in options.connections:
                key = (database, workers, connections, spec.endpoint)
                values = ratios(results, key, "service", spec.other, spec.other_endpoint)
                where = f"{DB_TITLE[database]}, {workers}w, {connections}c"
                if not values:
                    found.append(Target(spec.text, where, "not measured", None))
                    continue
                other_runs = results.runs.get(
                    (database, workers, connections, spec.other_endpoint, spec.other), []
                )
                stalls = sum(run.stalled or run.requests == 0 for run in other_runs)
                measured = f"{fmt_x(median(values))}x (min {fmt_x(min(values))}x)"
                if stalls:
                    measured += f"; {spec.other} stalled in {stalls} of {len(other_runs)} runs"
                found.append(
                    Target(
                        spec.text,
                        where,
                        measured,
                        median(values) >= spec.threshold,
                    )
                )
    return found


FLAT_MB = 5.0
RSS_LIMIT_MB = 90.0


def targets(options: Options, results: Results) -> list[Target]:
    found = [target for spec in RATIO_TARGETS for target in ratio_targets(options, results, spec)]
    for database in options.databases:
        for workers in options.workers:
            if 256 not in options.connections:
                continue
            where = f"{DB_TITLE[database]}, {workers}w, 256c"
            runs = [
                run
                for endpoint in options.endpoints
                for run in results.runs.get((database, workers, 256, endpoint, "service"), [])
            ]
            if runs:
                bad = sum(run.non_2xx + run.socket_errors for run in runs)
                timeouts = sum(run.timeouts for run in runs)
                stalls = sum(run.stalled or run.requests == 0 for run in runs)
                found.append(
                    Target(
                        "256 connections: zero errors and zero timeouts (service, every endpoint)",
                        where,
                        f"{bad} errors, of which {timeouts} timeouts; {stalls} stalled runs",
                        bad == 0 and stalls == 0,
                    )
                )
            mine = results.runs.get((database, workers, 256, "get_one", "service"), [])
            ceiling = results.runs.get((database, workers, 256, "get_one", "constant"), [])
            p99 = [
                a.p99_ms / b.p99_ms for a, b in zip(mine, ceiling, strict=False) if b.p99_ms > 0
            ]
            if p99:
                found.append(
                    Target(
                        "256 connections: GET one p99 <= 2x constant's p99",
                        where,
                        f"{median(p99):.2f}x (max {max(p99):.2f}x)",
                        median(p99) <= 2.0,
                    )
                )
    for database in options.databases:
        for workers in options.workers:
            memories = results.memory.get((database, workers, "service"))
            if not memories:
                continue
            where = f"{DB_TITLE[database]}, {workers}w"
            largest = max(v for m in memories for v in m.after + m.before)
            growth = max(a - b for m in memories for a, b in zip(m.after, m.before, strict=False))
            found.append(
                Target(
                    f"RSS per worker < {RSS_LIMIT_MB:.0f} MB",
                    where,
                    f"{largest:.1f} MB",
                    largest < RSS_LIMIT_MB,
                )
            )
            found.append(
                Target(
                    f"RSS flat: growth per worker during a turn <= {FLAT_MB:.0f} MB",
                    where,
                    f"{growth:+.1f} MB",
                    growth <= FLAT_MB,
                )
            )
    return found


def render(
    options: Options, results: Results, command: str, started: dt.datetime, seconds: float
) -> str:
    lines = [f"# Benchmark results{': ' + options.title if options.title else ''}", ""]
    lines += [
        f"- Date: {started.strftime('%Y-%m-%d %H:%M %Z').strip()} (took {seconds / 60:.1f} min)",
        f"- Command: `{command}`",
        f"- Repetitions: {options.repetitions}; wrk runs of {options.duration:g} s, 2 threads, "
        f"--timeout {options.timeout}, after {options.warmup:g} s of warm-up per endpoint; "
        f"{SEED_ROWS:,} heroes seeded per app before each turn",
        *machine_lines(),
    ]
    if "postgresql" in options.databases:
        lines.append(f"- Database server: {postgres_version(options.postgres_url)}")
    lines += [
        "",
        "Apps: **service** = app.main:app; **tutorial** = bench/tutorial_app.py (the FastAPI "
        "tutorial as published); **constant** = FastAPI returning a constant (framework "
        "ceiling, GET one only); **raw** = raw ASGI + sqlite3/asyncpg + orjson (hardware "
        "ceiling). All run as `python -m uvicorn MODULE:app --workers N --host 127.0.0.1 "
        "--port P --log-level warning`, one at a time, taking turns. wrk counts a status "
        'of 400 or more as "non-2xx"; a request slower than --timeout counts as a '
        "timeout and is left out of the latencies. See bench/README.md.",
        "",
    ]
    if results.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in results.notes), ""]
    found = targets(options, results)
    lines += ["## Targets", "", "| target | where | measured | met |", "|---|---|---|---|"]
    for target in found:
        verdict = {True: "met", False: "**not met**", None: "n/a"}[target.met]
        lines.append(f"| {target.text} | {target.where} | {target.measured} | {verdict} |")
    lines += ["", "## Throughput and latency", ""]
    for database in options.databases:
        for workers in options.workers:
            for connections in options.connections:
                lines += combination_table(options, results, database, workers, connections)
    lines += memory_table(options, results)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    wrk = ensure_wrk()
    command = shlex.join(["bench/run.py", *(sys.argv[1:] if argv is None else argv)])
    started = dt.datetime.now().astimezone()
    begin = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="heroes-bench-") as tmp:
        try:
            results = Bench(options, wrk, Path(tmp)).run()
        except (RuntimeError, subprocess.CalledProcessError, psycopg.Error) as error:
            raise SystemExit(f"bench: {error}") from None
    report = render(options, results, command, started, time.monotonic() - begin)
    options.output.write_text(report + "\n")
    log(f"wrote {options.output}")


if __name__ == "__main__":
    main()
