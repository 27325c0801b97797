"""Where SQLite's reads should run: on the event loop, on reader threads, or on the loop
until they take too long (app/db/sqlite.py), measured side by side in one process.

    .venv/bin/python bench/sqlite_reads.py                  # cost per request, 1,000 heroes
    .venv/bin/python bench/sqlite_reads.py --big PATH.db    # and the loop's stalls there

The service's app answers requests through bench/inprocess.py's ASGI call, its database
swapped for each way of running reads, in interleaved rounds: CPU µs (every thread's,
`time.process_time`) and wall µs per request, one request at a time. With `--big` (a
database seeded with `heroes seed 1000000`), each slow request runs beside a probe that
asks for `/healthz` every 10 ms: the probe's worst wait is how long the loop stood still.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inprocess import REQUESTS, Request, _call, _prepare_database  # noqa: E402

WAYS = {"loop": 3600.0, "loop-until-long": None, "threads": 0.0}  # None: the service's
SLOW: dict[str, Request] = {
    "search with a total": (
        "GET",
        "/heroes/",
        b"name_contains=zzq&limit=100",
        b"",
        [(b"prefer", b"count=exact")],
    ),
    "deep offset": ("GET", "/heroes/", b"offset=900000&limit=100&sort=name", b"", []),
    "total of all": ("GET", "/heroes/", b"limit=1", b"", [(b"prefer", b"count=exact")]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="get_one,list,search")
    parser.add_argument("--big", help="a SQLite file of many heroes: measure the loop's stalls")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heroes-sqlite-reads-") as directory:
        os.environ["DATABASE_URL"] = f"sqlite:///{directory}/heroes.db"
        _prepare_database()
        asyncio.run(_costs(args))
    if args.big:
        os.environ["DATABASE_URL"] = f"sqlite:///{args.big}"
        asyncio.run(_stalls())


def _with_reads(app: Any, seconds: float | None) -> Callable[[], Awaitable[None]]:
    from app.db.sqlite import LOOP_READ_SECONDS, SqliteDatabase  # noqa: PLC0415

    database = SqliteDatabase(
        app.state.engine,
        app.state.settings,
        LOOP_READ_SECONDS if seconds is None else seconds,
    )

    async def use() -> None:
        app.state.database = database

    return use


async def _costs(args: argparse.Namespace) -> None:
    from app.main import app  # noqa: PLC0415

    async with app.router.lifespan_context(app):
        ways = {name: _with_reads(app, steps) for name, steps in WAYS.items()}
        names = args.only.split(",")
        figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.rounds):
            for request in names:
                for way, use in ways.items():
                    await use()
                    figures.setdefault((request, way), []).append(
                        await _timed(app, REQUESTS[request], args.requests)
                    )
        print(f"µs per request, least and median of {args.rounds} rounds of {args.requests}:")
        print(f"  {'request':<10} {'reads':<16} {'CPU least':>9} {'median':>7} {'wall least':>10}")
        for (request, way), rounds in figures.items():
            cpu = [c for c, _ in rounds]
            wall = [w for _, w in rounds]
            print(
                f"  {request:<10} {way:<16} {min(cpu):9.1f} {statistics.median(cpu):7.1f}"
                f" {min(wall):10.1f}"
            )


async def _timed(app: Any, request: Request, count: int) -> tuple[float, float]:
    await _call(app, request)  # warm: connections, caches
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await _call(app, request)
    return (
        (time.process_time() - cpu) / count * 1e6,
        (time.perf_counter() - wall) / count * 1e6,
    )


async def _stalls() -> None:
    from app.main import create_app  # noqa: PLC0415

    app = create_app()  # on --big: app.main's own app was built for the small database
    async with app.router.lifespan_context(app):
        print("A slow request beside /healthz every 10 ms: its time, the probe's worst wait")
        for way, steps in WAYS.items():
            await _with_reads(app, steps)()
            for name, request in SLOW.items():
                seconds, worst = await _beside_probe(app, request)
                print(f"  {name:<20} {way:<16} {seconds * 1000:8.0f} ms {worst * 1000:8.1f} ms")


async def _beside_probe(app: Any, request: Request) -> tuple[float, float]:
    health: Request = ("GET", "/healthz", b"", b"", [])
    done = asyncio.Event()
    waits: list[float] = []

    async def probe() -> None:
        while not done.is_set():
            asked = time.perf_counter()
            await _call(app, health)
            await asyncio.sleep(0.01)
            waits.append(time.perf_counter() - asked - 0.01)

    prober = asyncio.create_task(probe())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await _call(app, request)
    seconds = time.perf_counter() - started
    done.set()
    await prober
    return seconds, max(waits)


if __name__ == "__main__":
    main()
