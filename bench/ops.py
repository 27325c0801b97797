"""Side-by-side wrk runs for the "Running in production" figures, on SQLite.

    python bench/ops.py overhead   # GET /heroes/{id}: the service without and with its
                                   # middleware stack, 1 worker, interleaved
    python bench/ops.py workers    # GET /heroes/{id}: `heroes serve` with 1 and 2 workers
    python bench/ops.py stack      # microseconds the middleware adds to one request,
                                   # in-process around a trivial ASGI app (no network)
    python bench/ops.py logline    # microseconds one JSON access line costs (to /dev/null)

Each variant runs in turn, `--repetitions` times, on the same machine in the same run.
"""

import argparse
import asyncio
import logging
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.security import SecurityHeadersMiddleware
from app.observability.logs import configure_logging
from app.observability.middleware import ObserveRequests
from tests.service_process import ServiceProcess, serve_command, uvicorn_command

ROOT = Path(__file__).resolve().parent.parent
HEROES = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["overhead", "workers", "stack", "logline"])
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if args.what == "stack":
        asyncio.run(_stack())
        return
    if args.what == "logline":
        _logline()
        return
    with tempfile.TemporaryDirectory(prefix="heroes-bench-") as directory:
        database = f"sqlite:///{directory}/heroes.db"
        if args.what == "overhead":
            variants = {
                "without": _uvicorn("bench.ops_apps:bare"),
                "with": _uvicorn("bench.ops_apps:full"),
            }
        else:
            variants = {"1 worker": _serve(1), "2 workers": _serve(2)}
        results: dict[str, list[float]] = {name: [] for name in variants}
        for repetition in range(args.repetitions):
            for name, command in variants.items():
                rate = _measure(command, database, args.duration, args.connections)
                results[name].append(rate)
                print(f"run {repetition + 1} {name}: {rate:,.0f} requests/s", flush=True)
    _report(results)


def _logline() -> None:
    """The best of 7 rounds of 20,000 access lines, as ObserveRequests writes them."""
    _log_to_devnull()
    access = logging.getLogger("app.access")
    fields = {"method": "GET", "route": "/heroes/{hero_id}", "status": 200, "duration_ms": 0.5}
    rounds = []
    for _ in range(7):
        started = time.process_time()
        for _ in range(20_000):
            access.info("request", extra={"fields": fields})
        rounds.append((time.process_time() - started) / 20_000 * 1e6)
    print(f"one access line: {min(rounds):.1f} us (best of 7 rounds of 20,000)")


def _log_to_devnull() -> None:
    configure_logging("INFO")
    for handler in logging.getLogger("app").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115  # for the whole run


async def _stack() -> None:
    """The best of 15 rounds of 3,000 calls each: the least disturbed by other processes."""
    _log_to_devnull()
    stacks: dict[str, ASGIApp] = {
        "trivial app": _trivial,
        "+ ObserveRequests + SecurityHeaders": ObserveRequests(
            SecurityHeadersMiddleware(_trivial, frozenset()), []
        ),
    }
    for level in ("INFO", "WARNING"):
        logging.getLogger("app").setLevel(level)
        for name, app in stacks.items():
            best = min([await _time_calls(app, 3000) for _ in range(15)])
            print(f"LOG_LEVEL={level} {name}: {best:.1f} us per request")


async def _trivial(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _time_calls(app: ASGIApp, count: int) -> float:
    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        return None

    started = time.perf_counter()
    for _ in range(count):
        scope = {"type": "http", "method": "GET", "path": "/heroes/1", "headers": []}
        await app(scope, receive, send)
    return (time.perf_counter() - started) / count * 1e6


def _uvicorn(factory: str) -> list[str]:
    return uvicorn_command(factory, "--factory", "--no-access-log", "--workers", "1")


def _serve(workers: int) -> list[str]:
    return serve_command("--workers", str(workers))


def _measure(command: list[str], database: str, duration: int, connections: int) -> float:
    """Requests per second of `command` (started the tests' way, tests/service_process.py,
    its output to /dev/null) under wrk."""
    service = ServiceProcess.start(
        command,
        environment={"DATABASE_URL": database, "LOG_LEVEL": "INFO"},
        log_path=Path(os.devnull),
    )
    try:
        _seed(service.base_url)
        script = str(ROOT / "bench" / "wrk" / "get_one.lua")
        wrk = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", script]
        wrk += [service.base_url, "--", str(HEROES)]
        output = subprocess.run(wrk, capture_output=True, text=True, check=True).stdout
    finally:
        service.stop(timeout=30)
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def _seed(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        count = len(client.get("/heroes/", params={"limit": 1}).json())
        if count:
            return
        for number in range(HEROES):
            client.post("/heroes/", json={"name": f"hero-{number}", "secret_name": "s"})


def _report(results: dict[str, list[float]]) -> None:
    names = list(results)
    print("\n| | " + " | ".join(names) + " |")
    print("|---|" + "--:|" * len(names))
    print(
        "| median requests/s | "
        + " | ".join(f"{statistics.median(v):,.0f}" for v in results.values())
        + " |"
    )
    first, second = (results[name] for name in names)
    ratios = [b / a for a, b in zip(first, second, strict=True)]
    print(f"\n{names[1]} / {names[0]}, per repetition: " + ", ".join(f"{r:.2f}" for r in ratios))
    print(f"median ratio: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
