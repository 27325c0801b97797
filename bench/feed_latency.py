"""The change feed across instances: commit-to-event latency, and what an idle stream costs.

    .venv/bin/python bench/feed_latency.py                     # both parts, PostgreSQL + Redis
    .venv/bin/python bench/feed_latency.py --writes 500 --followers 100 --idle 1000

Latency: two instances of `heroes serve` over one PostgreSQL database (a schema of its
own, `bench_feed`) and one Redis; `--followers` streams follow `GET /changes` on instance
B while heroes are created one at a time through instance A, `--pause` seconds apart. For
each write and follower: from the write's answer (its transaction has committed) to the
event at the follower, and from the write's request to the event (an upper bound of
commit-to-event: it includes the write itself). Percentiles over every (write, follower).
`--no-redis` runs the same without Redis, on polling alone.

Memory: one instance, one worker, on SQLite; the worker's resident memory (psutil) after a
warm-up, then with `--idle` streams open and idle (each has had its first event), and the
time one change then takes to reach all of them.

Clients and servers share the machine: the latency includes the clients' own turn on the
CPU. Nothing here is a test; tests/changes/ checks the behaviour.
"""

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import DEFAULT_POSTGRES, log, psycopg_url, with_search_path  # noqa: E402
from tests.service_process import HOST, ServiceProcess, serve_command  # noqa: E402

SCHEMA = "bench_feed"
REQUEST = b"GET /changes HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=400)
    parser.add_argument("--followers", type=int, default=50)
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between writes")
    parser.add_argument("--idle", type=int, default=1000, help="idle streams for memory")
    parser.add_argument("--workers", type=int, default=1, help="workers per instance")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--skip", choices=["latency", "memory"], action="append", default=[])
    options = parser.parse_args()
    if options.idle < 1 or options.writes < 1 or options.followers < 1:
        parser.error(
            "--idle, --writes and --followers must be at least 1 (--skip leaves a part out)"
        )
    with tempfile.TemporaryDirectory(prefix="heroes-feed-") as workdir:
        if "latency" not in options.skip:
            latency(options, Path(workdir))
        if "memory" not in options.skip:
            memory(options, Path(workdir))


# --- latency --------------------------------------------------------------------------


def latency(options: argparse.Namespace, workdir: Path) -> None:
    url = fresh_schema(options.postgres_url)
    settings = {"DATABASE_URL": url, "LOG_LEVEL": "WARNING", "DB_MIGRATE_ON_START": "true"}
    if not options.no_redis:
        settings |= {
            "REDIS_URL": options.redis_url,
            "REDIS_KEY_PREFIX": f"bench-{uuid.uuid4().hex}:",
        }
    # One after the other: the first migrates the schema.
    with (
        instance(settings, workdir, options.workers, "a") as one,
        instance(settings, workdir, options.workers, "b") as two,
    ):
        arrivals, writes = asyncio.run(follow_and_write(one, two, options))
    answered = [seen[hero] - writes[hero][1] for seen in arrivals for hero in writes]
    sent = [seen[hero] - writes[hero][0] for seen in arrivals for hero in writes]
    how = "polling only" if options.no_redis else "Redis wakes"
    print(f"\n## Commit-to-event, two instances ({how}), {datetime.now(UTC):%Y-%m-%d}")
    print(f"{options.writes} writes through A, {options.followers} followers on B, ms:\n")
    print("| from | p50 | p90 | p99 | max |\n|---|--:|--:|--:|--:|")
    for name, values in (("the write's answer", answered), ("the write's request", sent)):
        print(f"| {name} | " + " | ".join(f"{ms(each)}" for each in percentiles(values)) + " |")


async def follow_and_write(
    one: ServiceProcess, two: ServiceProcess, options: argparse.Namespace
) -> tuple[list[dict[int, float]], dict[int, tuple[float, float]]]:
    streams = [await open_stream(two.port) for _ in range(options.followers)]
    arrivals: list[dict[int, float]] = [{} for _ in streams]
    readers = [
        asyncio.create_task(record(reader, seen, options.writes))
        for (reader, _), seen in zip(streams, arrivals, strict=True)
    ]
    writes: dict[int, tuple[float, float]] = {}
    async with httpx.AsyncClient(base_url=one.base_url, timeout=10) as client:
        for n in range(options.writes):
            sent = time.perf_counter()
            created = await client.post("/heroes/", json={"name": f"H{n}", "secret_name": "s"})
            writes[created.json()["id"]] = (sent, time.perf_counter())
            await asyncio.sleep(options.pause)
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(*readers)
    except TimeoutError:
        raise RuntimeError(
            f"arrived: {[len(seen) for seen in arrivals]} of {len(writes)}"
        ) from None
    for _, writer in streams:
        writer.close()
    return arrivals, writes


async def record(reader: asyncio.StreamReader, seen: dict[int, float], count: int) -> None:
    """Each created hero's arrival time at this follower, until `count` have come."""
    buffered = b""
    while len(seen) < count:
        chunk = await reader.read(65536)
        if not chunk:
            raise RuntimeError("a stream ended")
        now = time.perf_counter()
        buffered += chunk
        *blocks, buffered = buffered.split(b"\n\n")
        for block in blocks:  # (after the chunked encoding's framing, if any)
            _, found, data = block.partition(b"event: change\ndata: ")
            if found:
                seen[json.loads(data)["id"]] = now


# --- memory ---------------------------------------------------------------------------


def memory(options: argparse.Namespace, workdir: Path) -> None:
    settings = {
        "DATABASE_URL": f"sqlite:///{workdir / 'memory.db'}",
        "LOG_LEVEL": "WARNING",
        "CHANGES_HEARTBEAT_SECONDS": "15",
    }
    with instance(settings, workdir, 1, "memory") as service:
        before, after, reached = asyncio.run(idle_streams(service, options.idle))
    per_stream = (after - before) / options.idle
    print(f"\n## Idle streams, one worker, {datetime.now(UTC):%Y-%m-%d}\n")
    print(f"RSS {before / 2**20:.1f} MB before, {after / 2**20:.1f} MB with {options.idle} idle")
    print(f"streams: {per_stream / 1024:.1f} KB per stream. One change reached all of them")
    print(f"in {ms(max(reached))} ms (p50 {ms(statistics.median(reached))} ms).")


async def idle_streams(service: ServiceProcess, count: int) -> tuple[int, int, list[float]]:
    worker = psutil.Process(service.process.pid)
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        for n in range(50):  # warm up: writes, reads, a stream opened and closed
            await client.post("/heroes/", json={"name": f"Warm {n}", "secret_name": "s"})
            await client.get("/heroes/")
        _, warm = await open_stream(service.port)
        warm.close()
        await asyncio.sleep(2)
        before = worker.memory_info().rss
        streams = [await open_stream(service.port) for _ in range(count)]
        await asyncio.sleep(5)
        after = worker.memory_info().rss
        sent = time.perf_counter()
        await client.post("/heroes/", json={"name": "To all", "secret_name": "s"})
        reached = await asyncio.gather(*(arrival(reader, sent) for reader, _ in streams))
    for _, writer in streams:
        writer.close()
    return before, after, reached


async def arrival(reader: asyncio.StreamReader, since: float) -> float:
    buffered = b""
    async with asyncio.timeout(30):
        while b"event: change" not in buffered:
            buffered += await reader.read(65536)
    return time.perf_counter() - since


# --- shared ---------------------------------------------------------------------------


async def open_stream(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(REQUEST)
    buffered = b""
    async with asyncio.timeout(10):
        while b"event: bookmark" not in buffered:
            buffered += await reader.read(65536)
    return reader, writer


@contextlib.contextmanager
def instance(
    settings: dict[str, str], workdir: Path, workers: int, name: str
) -> Iterator[ServiceProcess]:
    log(f"starting instance {name}")
    service = ServiceProcess.start(
        serve_command("--workers", str(workers)),
        environment=settings,
        log_path=workdir / f"{name}.log",
    )
    try:
        yield service
    finally:
        service.stop(10)


def fresh_schema(postgres_url: str) -> str:
    plain = psycopg_url(postgres_url)
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        connection.execute(f"CREATE SCHEMA {SCHEMA}")
    return with_search_path(plain, SCHEMA, "postgresql")


def percentiles(values: list[float]) -> list[float]:
    ordered = sorted(values)
    picks = [0.5, 0.9, 0.99]
    return [ordered[min(len(ordered) - 1, int(p * len(ordered)))] for p in picks] + [ordered[-1]]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


if __name__ == "__main__":
    main()
