"""What one request costs in-process: the ASGI app called directly, no sockets, no wrk.

    .venv/bin/python bench/inprocess.py                     # µs of CPU per request
    .venv/bin/python bench/inprocess.py --profile get_one   # and cProfile's top entries
    .venv/bin/python bench/inprocess.py --database postgresql://postgres@127.0.0.1/heroes_inprocess
    .venv/bin/python bench/inprocess.py --against ../before --pairs 7   # two trees, side by side

The service (app.main, with its default settings and middleware) and the FastAPI constant
endpoint (bench/constant_app.py) answer the same GET one in turn, several rounds each, on a
database of 1,000 seeded heroes; the figure is CPU time (`time.process_time`) per request,
so the machine's other load barely moves it. This is where bench/PROFILE.md's per-request
figures come from: use it to see what a change costs before running the full benchmark.
A `--database` is emptied (migrations down and up) before it is seeded: give it one of its
own, never the benchmark's or the tests'.

`--against DIR` compares this tree with another (a worktree of an earlier commit, say): each
pair runs one round in a fresh process per tree, the order alternating, and the figures are
the least and median per tree with the ratio of the medians. The other tree's code is
imported from DIR; this script, the database and the seeding are shared.
"""

import argparse
import asyncio
import contextlib
import cProfile
import importlib
import itertools
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message

ROOT = Path(__file__).resolve().parent.parent
HEROES = 1000
IF_NONE_MATCH = b'"1.1"'

_JSON = (b"content-type", b"application/json")
FRESH_KEY = b"<a fresh Idempotency-Key per request>"
_KEY = (b"idempotency-key", FRESH_KEY)
_keys = itertools.count()

# name -> (method, path, query string, body, extra headers)
Request = tuple[str, str, bytes, bytes, list[tuple[bytes, bytes]]]
REQUESTS: dict[str, Request] = {
    "get_one": ("GET", "/heroes/7", b"", b"", []),
    "get_one_fields": ("GET", "/heroes/7", b"fields=created_at", b"", []),
    "get_one_304": ("GET", "/heroes/1", b"", b"", [(b"if-none-match", IF_NONE_MATCH)]),
    "list": ("GET", "/heroes/", b"offset=0&limit=100", b"", []),
    "search": ("GET", "/heroes/", b"min_age=20&max_age=60&sort=-age,name&limit=100", b"", []),
    "patch": ("PATCH", "/heroes/9", b"", b'{"age": 31}', [(b"content-type", b"application/json")]),
    "post": ("POST", "/heroes/", b"", b'{"name": "N", "secret_name": "S"}', [_JSON]),
    "post_keyed": ("POST", "/heroes/", b"", b'{"name": "N", "secret_name": "S"}', [_JSON, _KEY]),
    "patch_keyed": ("PATCH", "/heroes/9", b"", b'{"age": 31}', [_JSON, _KEY]),
    "get_team": ("GET", "/teams/7", b"", b"", []),
    "get_team_100": ("GET", "/teams/200", b"", b"", []),
    "list_expand": ("GET", "/heroes/", b"offset=0&limit=100&expand=team", b"", []),
}
RAW = ("get_one", "list", "get_team", "get_team_100", "list_expand")
"""The requests the raw app (bench/raw_app.py) answers with the same statements."""
TEAMS, TEAM_SIZE, BIG_TEAM = 200, 5, 200
"""Teams 1 to 180 have 5 heroes each (heroes 1 to 900); team 200 has the other 100."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", help="a server database URL (default: a SQLite file)")
    parser.add_argument("--only", default=",".join(REQUESTS), help="comma-separated requests")
    parser.add_argument("--profile", choices=list(REQUESTS), help="cProfile this request")
    parser.add_argument("--against", type=Path, help="another tree to compare, side by side")
    parser.add_argument("--pairs", type=int, default=7, help="with --against: rounds per tree")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one child
    args = parser.parse_args()
    if args.against:
        _side_by_side(args)
        return
    with tempfile.TemporaryDirectory(prefix="heroes-inprocess-") as directory:
        os.environ["DATABASE_URL"] = args.database or f"sqlite:///{directory}/heroes.db"
        _prepare_database()
        asyncio.run(_measure(args))


def _prepare_database() -> None:
    heroes = [str(ROOT / ".venv/bin/heroes")]
    if "sqlite" not in os.environ["DATABASE_URL"]:  # a server database: start it empty
        for step in ("downgrade", "base"), ("upgrade", "head"):
            subprocess.run([*heroes, "migrate", *step], check=True, cwd=ROOT, capture_output=True)
    subprocess.run([*heroes, "seed", str(HEROES)], check=True, cwd=ROOT, capture_output=True)
    _seed_teams()


def _seed_teams() -> None:
    """Teams for the team requests, in a tree that has them (`--against` an older one may
    not)."""
    from sqlalchemy import create_engine, inspect, text  # noqa: PLC0415  # only when seeding

    engine = create_engine(os.environ["DATABASE_URL"])
    if not inspect(engine).has_table("team"):
        return
    teams = [
        {"id": team, "name": f"Team {team}", "headquarters": f"Tower {team % 7}"}
        for team in range(1, TEAMS + 1)
    ]
    members = HEROES - 100
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO team (id, name, headquarters) VALUES (:id, :name, :headquarters)"),
            teams,
        )
        connection.execute(
            text("UPDATE hero SET team_id = (id - 1) / :size + 1 WHERE id <= :members"),
            {"size": TEAM_SIZE, "members": members},
        )
        connection.execute(
            text("UPDATE hero SET team_id = :big WHERE id > :members"),
            {"big": BIG_TEAM, "members": members},
        )
    engine.dispose()


async def _measure(args: argparse.Namespace) -> None:
    service = importlib.import_module("app.main").app
    constant = importlib.import_module("bench.constant_app").app
    raw = importlib.import_module("bench.raw_app").app
    async with service.router.lifespan_context(service), _started(raw):
        if args.profile:
            await _profile(service, REQUESTS[args.profile], args.requests)
            return
        names = args.only.split(",")
        if args.json:
            rounds = [_timed(service, REQUESTS[name], args.requests) for name in names]
            measured = await _interleaved(rounds, args.rounds)
            print(json.dumps(dict(zip(names, measured, strict=True))))
            return
        print(f"CPU µs per request, least and median of {args.rounds} rounds of {args.requests}:")
        rounds = [_timed(constant, REQUESTS["get_one"], args.requests)]
        rounds += [_timed(service, REQUESTS[name], args.requests) for name in names]
        labels = ["constant GET one", *(f"service {name}" for name in names)]
        raws = [name for name in names if name in RAW]
        rounds += [_timed(raw, REQUESTS[name], args.requests) for name in raws]
        labels += [f"raw {name}" for name in raws]
        results = await _interleaved(rounds, args.rounds)
        for label, figures in zip(labels, results, strict=True):
            least, median = min(figures), statistics.median(figures)
            print(f"  {label:<24} {least:7.1f} {median:7.1f}")


@contextlib.asynccontextmanager
async def _started(raw: Any) -> AsyncIterator[None]:
    """The raw app with its store open, as its lifespan would (on DATABASE_URL)."""
    raw.store = await raw_app_store()
    try:
        yield
    finally:
        await raw.store.close()


async def raw_app_store() -> Any:
    return await importlib.import_module("bench.raw_app").open_store()


def _side_by_side(args: argparse.Namespace) -> None:
    trees = {"this tree": ROOT, "against": args.against.resolve()}
    names = args.only.split(",")
    figures: dict[str, dict[str, list[float]]] = {
        tree: {name: [] for name in names} for tree in trees
    }
    for pair in range(args.pairs):
        order = list(trees) if pair % 2 == 0 else list(reversed(trees))
        for tree in order:
            for name, values in _child(trees[tree], args).items():
                figures[tree][name] += values
    print(f"CPU µs per request, least and median of {args.pairs} rounds of {args.requests}:")
    for name in names:
        this, other = (statistics.median(figures[tree][name]) for tree in trees)
        for tree in trees:
            values = figures[tree][name]
            print(f"  {tree:<10} {name:<16} {min(values):7.1f} {statistics.median(values):7.1f}")
        print(f"  {'':<10} {name:<16} ratio of medians {this / other:.3f}")


def _child(tree: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    """One round in a fresh process that imports `tree`'s app."""
    command = [sys.executable, str(Path(__file__).resolve()), "--json", "--rounds", "1"]
    command += ["--requests", str(args.requests), "--only", args.only]
    if args.database:
        command += ["--database", args.database]
    env = os.environ | {"PYTHONPATH": str(tree), "HEROES_BENCH_ROOT": str(tree)}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    figures: dict[str, list[float]] = json.loads(done.stdout.splitlines()[-1])
    return figures


async def _interleaved(
    rounds: list[Callable[[], Awaitable[float]]], repetitions: int
) -> list[list[float]]:
    results: list[list[float]] = [[] for _ in rounds]
    for _ in range(repetitions):
        for figures, measure in zip(results, rounds, strict=True):
            figures.append(await measure())
    return results


def _timed(app: ASGIApp, request: Request, count: int) -> Callable[[], Awaitable[float]]:
    async def measure() -> float:
        await _call(app, request)  # warm: caches, prepared statements
        started = time.process_time()
        for _ in range(count):
            await _call(app, request)
        return (time.process_time() - started) / count * 1e6

    return measure


async def _profile(app: ASGIApp, request: Request, count: int) -> None:
    for _ in range(100):
        await _call(app, request)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        await _call(app, request)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)


def _fresh(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """A request that takes a key sends a new one each time: each is a first request."""
    if header[1] != FRESH_KEY:
        return header
    return header[0], f"bench-{os.getpid()}-{next(_keys)}".encode()


async def _call(app: ASGIApp, request: Request) -> int:
    method, path, query, body, headers = request
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:8000"), *(_fresh(header) for header in headers)],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    if body:
        scope["headers"].append((b"content-length", str(len(body)).encode()))
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    if status >= 400:
        raise SystemExit(f"{method} {path}?{query.decode()} answered {status}")
    return status


if __name__ == "__main__":
    ROOT = Path(os.environ.get("HEROES_BENCH_ROOT", ROOT))
    sys.path.insert(0, str(ROOT))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    main()
