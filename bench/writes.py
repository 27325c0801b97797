"""What the change log costs writes: two trees side by side, 32 writers, PostgreSQL.

    .venv/bin/python bench/writes.py                       # 1e2f00c (no change log) vs this tree
    .venv/bin/python bench/writes.py --other HEAD~3 --pairs 3 --duration 5

Issue 20's target: writes with the feed cost at most 10 % more than without (a rate ratio
tree/base of at least 1/1.1 = 0.909), at 32 concurrent writers on PostgreSQL, side by side
in one run.

Each tree runs as `heroes serve --workers 2` (its own venv, its own code: the service's
working directory is its tree, so `python -m app` imports that tree's `app`) over a
PostgreSQL database of its own (`bench_writes_base`, `bench_writes_tree`: dropped, made
again, migrated by that tree's `heroes migrate`, seeded with `--heroes` heroes). `--base`
(and `--other`) is a git revision, checked out as a temporary worktree; its venv is made
once and kept in /tmp/heroes-bench-venvs/<commit>. `--tree` is a directory with a `.venv`.

Both services run throughout; rounds alternate base, tree, base, tree..., one service
under load at a time. A round: `--writers` writers, each on one keep-alive connection,
`--warmup` seconds, then `--duration` measured seconds. Each writer sends, one after the
other: 50 % PATCH `{"age": n}` of a seeded hero, 30 % POST of a new hero, 20 % DELETE of a
hero it created earlier (a POST while it has none). The client speaks HTTP/1.1 by hand on
uvloop, so that it takes little of the CPU the servers and PostgreSQL share with it: each
round reports its CPU beside the service's and the database backends'. After each round
the tree's database is vacuumed (`VACUUM (ANALYZE)`, timed and reported, not measured): the
work autovacuum does in the background, which this machine's server does not run, so each
round starts without the dead rows of the ones before (`--no-vacuum`: leave them).
`--py-spy DIR` records each worker of both trees in the first pair (py-spy, 50 Hz, not
pausing them; it takes CPU of its own, so that pair's rates are not comparable).

A request counts when it starts and ends inside the measured window. Any answer that is
not 2xx, or no answer (status 0) within 10 s, is an error: the report lists them and says
so at the top, and the exit status is 1.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from random import Random

import httpx2 as httpx
import orjson
import psutil
import psycopg
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.service_process import HOST, ServiceProcess  # noqa: E402  # after the path is set

VENVS = Path("/tmp/heroes-bench-venvs")  # noqa: S108  # a cache others may reuse, by design
OPERATIONS = ("PATCH", "POST", "DELETE")
REQUEST_TIMEOUT = 10.0
MAX_REQUESTS_PER_WRITER = 1_000_000  # per round: a bound beside the round's time
TARGET_RATIO = 1 / 1.1
CORES = os.cpu_count() or 1
# 2 services x 2 workers x 12 = 48 of PostgreSQL's 100 connections at most. No overflow:
# a connection opened and closed under load would be a cost of its own in the figures.
SERVICE_SETTINGS: dict[str, str | None] = {
    "LOG_LEVEL": "WARNING",
    "ENVIRONMENT": "development",
    "DB_POOL_SIZE": "12",
    "DB_MAX_OVERFLOW": "0",
    "WORKER_THREADS": "12",
    "DB_MIGRATE_ON_START": "false",
    "RATE_LIMIT_PER_SECOND": "0",
    "WRITE_POLICY": "anyone",
    "READ_POLICY": "anyone",
    "REQUIRE_IF_MATCH": "false",
    "REQUIRE_IDEMPOTENCY_KEY": "false",
    "REDIS_URL": None,
    "PROMETHEUS_MULTIPROC_DIR": None,
}


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- the trees ------------------------------------------------------------------------


@dataclass
class Tree:
    label: str  # "base" or "tree": also its database's name
    path: Path
    python: Path
    describe: str  # what it is, for the report
    database_url: str = ""
    service: ServiceProcess | None = None
    mine: list[list[int]] = field(default_factory=list)  # each writer's heroes, kept
    rounds: list["Round"] = field(default_factory=list)

    @property
    def port(self) -> int:
        assert self.service is not None
        return self.service.port


def git(*arguments: str, where: Path = ROOT, check: bool = True) -> str:
    done = subprocess.run(
        ["git", "-C", str(where), *arguments], check=check, capture_output=True, text=True
    )
    return done.stdout.strip()


def checkout(label: str, revision: str, workdir: Path, stack: contextlib.ExitStack) -> Tree:
    """`revision` as a temporary worktree, with its cached venv."""
    commit = git("rev-parse", "--verify", f"{revision}^{{commit}}")
    path = workdir / label
    git("worktree", "add", "--detach", str(path), commit)
    stack.callback(git, "worktree", "remove", "--force", str(path))
    subject = git("log", "-1", "--format=%h %s", commit)
    return Tree(label, path, venv_for(commit, path), f"`{revision}` = {subject[:90]}")


def venv_for(commit: str, tree: Path) -> Path:
    """A venv with `tree`'s dependencies, made once per commit. Its editable install points
    at a worktree that is gone on the next run; harmless, as the service imports `app` from
    its working directory, the tree."""
    venv = VENVS / commit
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        log(f"making the venv {venv} (once per commit)")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        quietly([*pip, "-e", str(tree)], cwd=tree, environment=dict(os.environ), seconds=900)
        (venv / ".installed").touch()
    return python


def directory_tree(label: str, path: Path) -> Tree:
    python = path / ".venv" / "bin" / "python"
    if not python.exists():
        sys.exit(f"{path} has no .venv: run `make install` there")
    head = git("log", "-1", "--format=%h %s", where=path, check=False)[:90]
    if git("status", "--porcelain", "--untracked-files=no", where=path, check=False):
        head += " (with uncommitted changes)"
    return Tree(label, path.resolve(), python, f"`{path}` at {head}")


# --- databases and services -----------------------------------------------------------


def prepare_database(tree: Tree, admin_url: str, heroes: int) -> None:
    """Database `bench_writes_<label>`, made again, migrated and seeded by the tree itself."""
    name = f"bench_writes_{tree.label}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")
    tree.database_url = urllib.parse.urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    for command in (["migrate", "upgrade"], ["seed", str(heroes)]):
        quietly([str(tree.python), "-m", "app", *command], tree.path, service_environment(tree))


def quietly(
    command: list[str], cwd: Path, environment: dict[str, str], seconds: float = 300
) -> None:
    """Run `command`; its output is shown only if it fails, and then the bench stops."""
    done = subprocess.run(
        command,
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=seconds,
        check=False,
    )
    if done.returncode:
        sys.exit(
            f"`{shlex.join(command)}` failed in {cwd}:\n{(done.stdout + done.stderr)[-4000:]}"
        )


def service_environment(tree: Tree) -> dict[str, str]:
    environment = dict(os.environ) | {"DATABASE_URL": tree.database_url}
    for name, value in SERVICE_SETTINGS.items():
        environment.pop(name, None)
        if value is not None:
            environment[name] = value
    return environment


@contextlib.contextmanager
def serving(tree: Tree, workdir: Path, workers: int) -> Iterator[None]:
    log(f"starting {tree.label} ({tree.path})")
    tree.service = ServiceProcess.start(
        [str(tree.python), "-m", "app", "serve", "--workers", str(workers)],
        environment=service_environment(tree),
        inherit_environment=False,
        log_path=workdir / f"{tree.label}.log",
        cwd=tree.path,
    )
    try:
        yield
    finally:
        tree.service.stop(30)


def has_feed(tree: Tree, heroes: int) -> bool:
    """Whether this service has the change feed; checks that the seeded heroes are there."""
    assert tree.service is not None
    base = tree.service.base_url
    if httpx.get(f"{base}/heroes/{heroes}", timeout=5).status_code != 200:
        sys.exit(f"{tree.label}: hero {heroes} is not there: the seed did not run as expected")
    return "/changes" in httpx.get(f"{base}/openapi.json", timeout=10).json()["paths"]


# --- the client -----------------------------------------------------------------------

CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class Connection:
    """One keep-alive HTTP/1.1 connection, spoken by hand: a fraction of a general
    client's CPU per request, which the servers would otherwise lose to it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        """The answer's status and body; status 0 if none came (the connection is then
        closed, and opened again by the next request)."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                return await self._exchange(method, path, body)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            self.close()
            return 0, b""

    async def _exchange(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(HOST, self.port)
        reader, writer = self.streams
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await reader.readuntil(b"\r\n\r\n")
        length = CONTENT_LENGTH.search(head)
        if length is None:
            raise ValueError("an answer without Content-Length")
        payload = await reader.readexactly(int(length[1]))
        if b"\r\nconnection: close" in head.lower():
            self.close()
        return int(head[9:12]), payload

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


@dataclass(frozen=True)
class Sample:
    operation: str
    start: float
    end: float
    status: int  # 0: no answer


def next_write(rng: Random, mine: list[int], heroes: int) -> tuple[str, str, bytes]:
    """The operation, path and body of a writer's next request (a DELETE takes its hero
    off `mine` now: were it to fail, nobody deletes it again)."""
    draw = rng.random()
    if draw < 0.5:
        body = orjson.dumps({"age": rng.randrange(100)})
        return "PATCH", f"/heroes/{rng.randint(1, heroes)}", body
    if draw >= 0.8 and mine:
        index = rng.randrange(len(mine))
        mine[index], mine[-1] = mine[-1], mine[index]
        return "DELETE", f"/heroes/{mine.pop()}", b""
    hero = {"name": f"Writer {rng.randrange(10**6)}", "secret_name": "s", "age": 30}
    return "POST", "/heroes/", orjson.dumps(hero)


async def write(port: int, until: float, mine: list[int], heroes: int, seed: int) -> list[Sample]:
    """One writer: requests one after another until `until`."""
    rng, connection = Random(seed), Connection(port)
    samples: list[Sample] = []
    try:
        while len(samples) < MAX_REQUESTS_PER_WRITER and (start := time.perf_counter()) < until:
            operation, path, body = next_write(rng, mine, heroes)
            status, answer = await connection.send(operation, path, body)
            samples.append(Sample(operation, start, time.perf_counter(), status))
            if operation == "POST" and 200 <= status < 300:
                mine.append(orjson.loads(answer)["id"])
    finally:
        connection.close()
    return samples


# --- a round --------------------------------------------------------------------------


@dataclass(frozen=True)
class Meters:
    """CPU seconds so far: this client, the service's processes, the tree's PostgreSQL
    backends, PostgreSQL's own processes (WAL writer, checkpointer, background writer:
    the server's, shared, but only one tree is under load at a time), and the machine
    (busy, all cores)."""

    wall: float
    client: float
    service: float
    database: float
    server: float
    machine: float

    @classmethod
    def read(cls, tree: Tree) -> "Meters":
        assert tree.service is not None
        master = psutil.Process(tree.service.process.pid)
        service = sum(cpu(each) for each in [master, *master.children(recursive=True)])
        times = psutil.cpu_times()
        busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
        database, server = backends(tree)
        return cls(time.perf_counter(), time.process_time(), service, database, server, busy)

    @property
    def accounted(self) -> float:
        return self.client + self.service + self.database + self.server

    def __sub__(self, other: "Meters") -> "Meters":
        return Meters(
            self.wall - other.wall,
            self.client - other.client,
            self.service - other.service,
            self.database - other.database,
            self.server - other.server,
            self.machine - other.machine,
        )


def cpu(process: psutil.Process) -> float:
    with contextlib.suppress(psutil.Error):
        times = process.cpu_times()
        return float(times.user + times.system)
    return 0.0


SERVER_PROCESSES = ("walwriter", "checkpointer", "background writer")


def backends(tree: Tree) -> tuple[float, float]:
    """CPU seconds of the PostgreSQL backends serving the tree's database (their process
    titles name it; the pool keeps them open, so none is lost between two readings), and
    of the server's own processes that write what they change to disk."""
    title = f" bench_writes_{tree.label} "
    own = server = 0.0
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if not line.startswith("postgres: "):
            continue
        if title in line:
            own += cpu(process)
        elif line.rstrip().endswith(SERVER_PROCESSES):
            server += cpu(process)
    return own, server


@dataclass(frozen=True)
class Round:
    samples: list[Sample]
    used: Meters  # over the measured window
    vacuum: float = 0.0  # seconds the VACUUM after it took

    def count(self, operation: str | None = None) -> int:
        return sum(1 for each in self.samples if operation in (None, each.operation))

    def rate(self, operation: str | None = None) -> float:
        return self.count(operation) / self.used.wall


async def load(tree: Tree, options: argparse.Namespace, pair: int) -> Round:
    """One round on `tree`; both trees of a pair draw the same operations (given the
    same heroes of their own)."""
    begin = time.perf_counter()
    start, end = begin + options.warmup, begin + options.warmup + options.duration
    writers = [
        asyncio.create_task(write(tree.port, end, mine, options.heroes, pair * 1000 + n))
        for n, mine in enumerate(tree.mine)
    ]
    await asyncio.sleep(start - time.perf_counter())
    profilers = profile(tree, options, pair)
    before = Meters.read(tree)
    await asyncio.sleep(end - time.perf_counter())
    used = Meters.read(tree) - before
    async with asyncio.timeout(REQUEST_TIMEOUT * 2):
        done = await asyncio.gather(*writers)
    for each in profilers:
        each.wait(REQUEST_TIMEOUT)
    measured = [each for samples in done for each in samples if start <= each.start]
    return Round([each for each in measured if each.end <= end], used)


def profile(tree: Tree, options: argparse.Namespace, pair: int) -> list[subprocess.Popen[bytes]]:
    """With `--py-spy DIR`, in the first pair: py-spy records each of the tree's worker
    processes over the measured window, without pausing them, in its raw format (one line
    per stack and its count) to DIR/<tree>-<pid>.txt."""
    if options.py_spy is None or pair:
        return []
    assert tree.service is not None
    options.py_spy.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    workers = psutil.Process(tree.service.process.pid).children(recursive=True)
    return [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--nonblocking",
                "-r",
                "50",
                "-f",
                "raw",
                "--pid",
                str(each.pid),
                "-d",
                str(int(options.duration)),
                "-o",
                str(options.py_spy / f"{tree.label}-{each.pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for each in workers
        if "resource_tracker" not in " ".join(each.cmdline())  # not multiprocessing's helper
    ]


def vacuum(tree: Tree) -> float:
    """VACUUM (ANALYZE) the tree's database, outside the measured window; its seconds.
    What autovacuum would do in the background on a server that runs it: each round then
    starts without the dead rows of the rounds before (a change log's numbering leaves one
    per change), whatever the server's `autovacuum`."""
    begin = time.perf_counter()
    with psycopg.connect(tree.database_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute("VACUUM (ANALYZE)")
    return time.perf_counter() - begin


def autovacuum(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        row = connection.execute("SHOW autovacuum").fetchone()
    return str(row[0]) if row else "unknown"


def measure(trees: list[Tree], options: argparse.Namespace) -> None:
    for tree in trees:
        tree.mine = [[] for _ in range(options.writers)]
    for pair in range(options.pairs):
        for tree in trees:
            time.sleep(options.pause)
            result = uvloop.run(load(tree, options, pair))
            if options.vacuum:
                result = dataclasses.replace(result, vacuum=vacuum(tree))
            tree.rounds.append(result)
            errors = sum(1 for each in result.samples if not 200 <= each.status < 300)
            log(
                f"pair {pair + 1} {tree.label}: {result.rate():.0f} writes/s, client CPU "
                f"{result.used.client / result.used.wall:.0%} of a core, errors {errors}"
            )


# --- the report -----------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def errors_of(tree: Tree, operation: str | None = None) -> Counter[int]:
    return Counter(
        each.status
        for result in tree.rounds
        for each in result.samples
        if operation in (None, each.operation) and not 200 <= each.status < 300
    )


def tree_rows(tree: Tree) -> list[str]:
    rows = []
    for operation in (None, *OPERATIONS):
        rates = [result.rate(operation) for result in tree.rounds]
        latencies = [
            each.end - each.start
            for result in tree.rounds
            for each in result.samples
            if operation in (None, each.operation)
        ]
        errors = errors_of(tree, operation)
        shown = ", ".join(f"{n} x {status or 'no answer'}" for status, n in errors.items())
        rows.append(
            f"| {tree.label} | {operation or 'all'} | {statistics.median(rates):.0f} | "
            f"{' '.join(f'{rate:.0f}' for rate in rates)} | "
            f"{percentile(latencies, 0.5) * 1000:.1f} | {percentile(latencies, 0.99) * 1000:.1f} "
            f"| {shown or 0} |"
        )
    return rows


def cost_rows(tree: Tree) -> str:
    def per_write(seconds: list[float]) -> str:
        counts = [result.count() for result in tree.rounds]
        return (
            f"{statistics.median(s / n * 1e6 for s, n in zip(seconds, counts, strict=True)):.0f}"
        )

    used = [result.used for result in tree.rounds]
    client = [each.client / each.wall for each in used]
    return (
        f"| {tree.label} | {per_write([each.service for each in used])} | "
        f"{per_write([each.database for each in used])} | "
        f"{per_write([each.server for each in used])} | "
        f"{per_write([each.machine - each.accounted for each in used])} | "
        f"{per_write([result.vacuum for result in tree.rounds])} | "
        f"{statistics.median(client):.0%} (max {max(client):.0%}) | "
        f"{statistics.median(each.client / each.machine for each in used):.0%} | "
        f"{statistics.median(each.machine / each.wall / CORES for each in used):.0%} |"
    )


def ratio_rows(base: Tree, tree: Tree) -> list[str]:
    rows = []
    for pair, (one, two) in enumerate(zip(base.rounds, tree.rounds, strict=True), start=1):
        ratios = [
            two.rate(op) / one.rate(op) if one.rate(op) else 0.0 for op in (None, *OPERATIONS)
        ]
        rows.append(
            f"| {pair} | {one.rate():.0f} | {two.rate():.0f} | "
            + " | ".join(f"{r:.2f}" for r in ratios)
            + " |"
        )
    return rows


def median_ratio(base: Tree, tree: Tree, operation: str | None = None) -> float:
    return statistics.median(
        two.rate(operation) / one.rate(operation) if one.rate(operation) else 0.0
        for one, two in zip(base.rounds, tree.rounds, strict=True)
    )


def report(base: Tree, tree: Tree, options: argparse.Namespace, feeds: list[bool]) -> int:
    failed = sum(sum(errors_of(each).values()) for each in (base, tree))
    loud = f"\n**ERRORS: {failed} requests failed (non-2xx or no answer); see the table.**\n"
    print(loud if failed else "\nNo errors: every request answered 2xx.")
    print("| tree | operation | writes/s (median) | each round | p50 ms | p99 ms | errors |")
    print("|---|---|--:|---|--:|--:|---|")
    print("\n".join(tree_rows(base) + tree_rows(tree)))
    print("\np50 and p99: every measured request of the tree's rounds together.\n")
    print("| pair | base writes/s | tree writes/s | tree/base | PATCH | POST | DELETE |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    print("\n".join(ratio_rows(base, tree)))
    medians = " | ".join(f"**{median_ratio(base, tree, op):.2f}**" for op in OPERATIONS)
    print(f"| median | | | **{median_ratio(base, tree):.2f}** | {medians} |")
    ratio = median_ratio(base, tree)
    verdict = "met" if ratio >= TARGET_RATIO else "**not met**"
    print(f"\nIssue 20's target, tree/base >= {TARGET_RATIO:.3f} (cost at most +10 %): {verdict}")
    print(f"(a write costs {1 / ratio:.2f}x the base's time at {options.writers} writers).\n")
    print(
        "| tree | service CPU µs/write | its PostgreSQL backends µs/write "
        "| PostgreSQL's WAL writer, checkpointer, background writer µs/write "
        "| the machine's other busy CPU µs/write "
        "| VACUUM after the round, µs/write (wall) "
        "| client CPU, of a core | client's share of the machine's busy CPU "
        "| machine busy (all processes) |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    print(cost_rows(base) + "\n" + cost_rows(tree))
    print("\nMedians over the rounds; the CPU columns cover each round's measured window only.")
    print(f"Change feed (`/changes`) in base: {feeds[0]}, in tree: {feeds[1]}.")
    if failed:
        print(loud)
    return 1 if failed else 0


def header(options: argparse.Namespace) -> None:
    load_average = " ".join(f"{each:.2f}" for each in os.getloadavg())
    print(f"## Writes side by side, {options.writers} writers, PostgreSQL\n")
    print(f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average at start: {load_average}")
    print(f"- command: `{shlex.join(['bench/writes.py', *sys.argv[1:]])}`")
    print(
        f"- machine: {CORES} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"- each tree: `heroes serve --workers {options.workers}`, DB_POOL_SIZE 12, no "
        f"overflow, {options.heroes} heroes seeded; rounds of {options.warmup:g} s warm-up + "
        f"{options.duration:g} s measured; pairs: {options.pairs} (base, then tree)"
    )
    cleaned = "VACUUM (ANALYZE) of its database after each round" if options.vacuum else "none"
    print(f"- the server's autovacuum: {autovacuum(options.postgres_url)}; {cleaned}")


# --- main -----------------------------------------------------------------------------


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base", default="1e2f00c", help="git revision (default: 1e2f00c)")
    other = parser.add_mutually_exclusive_group()
    other.add_argument("--tree", type=Path, default=ROOT, help="directory with a .venv")
    other.add_argument("--other", help="a git revision instead of --tree")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10, help="measured s per round")
    parser.add_argument("--warmup", type=float, default=2, help="s per round before it")
    parser.add_argument("--pause", type=float, default=1, help="s between rounds")
    parser.add_argument("--heroes", type=int, default=1000, help="heroes seeded per tree")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--no-vacuum",
        dest="vacuum",
        action="store_false",
        help="no VACUUM (ANALYZE) of the tree's database after each of its rounds",
    )
    parser.add_argument(
        "--py-spy", type=Path, metavar="DIR", help="profile the first pair's workers into DIR"
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a database to connect to while making the benchmark's own two",
    )
    options = parser.parse_args(argv)
    if not (1 <= options.pairs <= 50 and 1 <= options.writers <= 256):
        parser.error("--pairs must be 1 to 50, --writers 1 to 256")
    if not (0 < options.duration <= 600 and 0 <= options.warmup <= 60 and options.heroes >= 1):
        parser.error("--duration must be 0 to 600 s, --warmup 0 to 60 s, --heroes at least 1")
    return options


def main() -> None:
    options = parse()
    header(options)
    with (
        tempfile.TemporaryDirectory(prefix="heroes-writes-") as scratch,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(scratch)
        base = checkout("base", options.base, workdir, stack)
        if options.other:
            tree = checkout("tree", options.other, workdir, stack)
        else:
            tree = directory_tree("tree", options.tree)
        for each in (base, tree):
            print(f"- {each.label}: {each.describe}")
            log(f"database for {each.label}: made again, migrated, seeded")
            prepare_database(each, options.postgres_url, options.heroes)
            stack.enter_context(serving(each, workdir, options.workers))
        feeds = [has_feed(each, options.heroes) for each in (base, tree)]
        measure([base, tree], options)
    status = report(base, tree, options, feeds)
    load_average = " ".join(f"{each:.2f}" for each in os.getloadavg())
    print(f"\nLoad average at the end: {load_average}; finished {datetime.now(UTC):%H:%M} UTC.")
    sys.exit(status)


if __name__ == "__main__":
    main()
