"""Finding heroes on a large table: p50 and p99 of a filtered, sorted page of 100.

    .venv/bin/python bench/listing.py            # or: make bench-listing

Loads 1,000,000 heroes (once: a table that has them already is kept) into a PostgreSQL
database of its own (`heroes_list_bench`, created when missing) and a SQLite file, starts
the service under uvicorn with 1 worker on each, and times sequential requests from one
client on 127.0.0.1: each query at offset 0, at a deep offset, and by cursor at several
depths. Writes bench/RESULTS-listing.md. Not a test: run it on a quiet machine.
"""

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from starlette.datastructures import QueryParams

from app.commands import generate_heroes
from app.config import load_settings
from app.db.backends import create_db_engine
from app.db.migrator import upgrade
from app.heroes.models import Hero
from app.heroes.resource import HEROES_LIST
from app.kit.listing.cursors import Cursor, CursorCodec
from tests.service_process import ServiceProcess, uvicorn_command

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-listing-cursor-secret"  # noqa: S105  # a benchmark's own service
QUERIES = {
    "ages 30+, oldest first": {"min_age": "30", "sort": "-age"},
    "with an age, by name": {"has_age": "true", "sort": "name"},
    "ages 30+, oldest first, then by name": {"min_age": "30", "sort": "-age,name"},
    "everyone, youngest first (no age last)": {"sort": "age"},
    "name contains 'storm', by name": {"name_contains": "storm", "sort": "name"},
}
BATCH = 50_000


@dataclass
class Timing:
    query: str
    paging: str
    p50_ms: float
    p99_ms: float
    requests: int


def main() -> None:
    args = _arguments()
    started = datetime.now(UTC)
    results: dict[str, list[Timing]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        urls = {
            "postgresql": args.postgres_url,
            "sqlite": args.sqlite_url or f"sqlite:///{scratch}/heroes.db",
        }
        for database in args.databases.split(","):
            url = load_settings(database_url=urls[database]).database_url
            _prepare(url, args.rows)
            results[database] = _measure_service(url, args)
            if database == "postgresql" and args.compare_indexes:
                with _single_column_indexes(url):
                    results[f"{database}, indexes (name) and (age) as before 0005"] = (
                        _measure_service(url, args)
                    )
    _report(args, started, results)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per case")
    parser.add_argument("--deep-requests", type=int, default=30, help="at the deep offset")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--deep-offset", type=int, default=500_000)
    parser.add_argument("--depths", default="1000,100000,500000,900000", help="cursor depths")
    parser.add_argument(
        "--compare-indexes",
        action="store_true",
        help="on PostgreSQL, also measure with the single-column indexes of before 0005",
    )
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_LIST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/heroes_list_bench"
        ),
    )
    parser.add_argument("--sqlite-url", help="a SQLite file to keep (default: a temporary one)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS-listing.md")
    return parser.parse_args()


# --- data --------------------------------------------------------------------------------


def _prepare(url: str, rows: int) -> None:
    """The schema at head and `rows` heroes, loaded once; statistics up to date."""
    _create_database(url)
    engine = create_db_engine(load_settings(database_url=url))
    try:
        upgrade(engine)
        with engine.connect() as connection:
            present = connection.execute(select(func.count()).select_from(Hero)).scalar_one()
        if present != rows:
            started = time.perf_counter()
            _load(engine, rows)
            seconds = time.perf_counter() - started
            print(f"{engine.dialect.name}: loaded {rows} heroes in {seconds:.0f} s")
        _analyze(engine)
    finally:
        engine.dispose()


def _create_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        ).first()
        if exists is None:
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def _load(engine: Engine, rows: int) -> None:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM hero"))
    heroes = generate_heroes(rows, datetime.now(UTC))
    if engine.dialect.name == "postgresql":
        _copy(engine, heroes)
        return
    with engine.begin() as connection:
        while batch := list(islice(heroes, BATCH)):
            connection.execute(insert(Hero), batch)


def _copy(engine: Engine, heroes: Iterator[dict[str, Any]]) -> None:
    columns = ("name", "secret_name", "age", "created_at", "updated_at")
    raw: Any = engine.raw_connection()
    try:
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY hero ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            while batch := list(islice(heroes, BATCH)):
                for hero in batch:
                    copy.write_row(tuple(hero[column] for column in columns))
        raw.commit()
    finally:
        raw.close()


def _analyze(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE hero"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


@contextmanager
def _single_column_indexes(url: str) -> Iterator[None]:
    """The indexes of revision 0004 in place of the list's, for as long as it lasts."""
    swap = [
        ("DROP INDEX ix_hero_name_id", "CREATE INDEX ix_hero_name_id ON hero (name, id)"),
        ("DROP INDEX ix_hero_age_id", "CREATE INDEX ix_hero_age_id ON hero (age, id)"),
        ("CREATE INDEX ix_hero_name ON hero (name)", "DROP INDEX ix_hero_name"),
        ("CREATE INDEX ix_hero_age ON hero (age)", "DROP INDEX ix_hero_age"),
    ]
    engine = create_db_engine(load_settings(database_url=url))
    _run_all(engine, [forward for forward, _ in swap])
    try:
        yield
    finally:
        _run_all(engine, [back for _, back in reversed(swap)])
        engine.dispose()


def _run_all(engine: Engine, statements: list[str]) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    _analyze(engine)


# --- measuring ---------------------------------------------------------------------------


def _measure_service(url: str, args: argparse.Namespace) -> list[Timing]:
    timings = []
    with _service(url) as base, httpx.Client(base_url=base, timeout=60) as client:
        for label, params in QUERIES.items():
            print(f"{label}:")
            timings += _measure_query(client, label, params, args)
    return timings


def _measure_query(
    client: httpx.Client, label: str, params: dict[str, str], args: argparse.Namespace
) -> list[Timing]:
    """Offset 0, the deep offset and each cursor depth, each clamped to the query's last
    full page (a query that matches fewer heroes pages less deep)."""
    last_page = _total(client, params) - 100
    page = params | {"limit": "100"}
    deep = min(args.deep_offset, last_page)
    timings = [
        _time(client, label, "offset 0", page | {"offset": "0"}, args.requests, args),
        _time(
            client,
            label,
            f"offset {deep:,}",
            page | {"offset": str(deep)},
            args.deep_requests,
            args,
        ),
    ]
    for depth in sorted({min(int(depth), last_page) for depth in args.depths.split(",")}):
        cursor = {"cursor": _cursor_at(client, params, depth)}
        timings.append(
            _time(client, label, f"cursor at {depth:,}", page | cursor, args.requests, args)
        )
    return timings


def _total(client: httpx.Client, params: dict[str, str]) -> int:
    response = client.get(
        "/heroes/", params=params | {"limit": "0"}, headers={"Prefer": "count=exact"}
    )
    response.raise_for_status()
    return int(response.headers["x-total-count"])


@contextmanager
def _service(url: str) -> Iterator[str]:
    """The service under uvicorn, 1 worker, started the tests' way (tests/service_process.py)."""
    settings = {
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "CURSOR_SECRET": SECRET,
        "DB_MIGRATE_ON_START": "false",
    }
    service = ServiceProcess.start(
        uvicorn_command("app.main:app", "--workers", "1", "--log-level", "warning"),
        environment=settings,
    )
    try:
        yield service.base_url
    finally:
        service.stop(timeout=30)


def _cursor_at(client: httpx.Client, params: dict[str, str], depth: int) -> str:
    """The cursor of the page that starts after the first `depth` heroes of the query."""
    response = client.get("/heroes/", params=params | {"offset": str(depth - 1), "limit": "1"})
    response.raise_for_status()
    hero = response.json()[0]
    codec = CursorCodec(SECRET)
    query = HEROES_LIST.query(QueryParams(params), None, codec)
    values = tuple(hero[order.key] for order in query.sort)
    return codec.encode(Cursor(values), query.made_for())


def _time(  # noqa: PLR0913, PLR0917  # what one case is: its query, its page, how often
    client: httpx.Client,
    label: str,
    paging: str,
    params: dict[str, str],
    requests: int,
    args: argparse.Namespace,
) -> Timing:
    for _ in range(min(args.warmup, requests)):
        _get_page(client, params)
    seconds = sorted(_get_page(client, params) for _ in range(requests))
    p50 = statistics.median(seconds) * 1000
    p99 = seconds[min(len(seconds) - 1, round(len(seconds) * 0.99))] * 1000
    print(f"  {paging:20} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms")
    return Timing(label, paging, p50, p99, requests)


def _get_page(client: httpx.Client, params: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.get("/heroes/", params=params)
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or len(response.json()) != 100:
        raise SystemExit(f"unexpected answer {response.status_code}: {response.text[:200]}")
    return elapsed


# --- the report --------------------------------------------------------------------------


def _report(args: argparse.Namespace, started: datetime, results: dict[str, list[Timing]]) -> None:
    lines = [
        "# Finding heroes: pages of 100 on 1,000,000 heroes",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC by `bench/listing.py` on {_machine()}.",
        f"{args.rows:,} heroes (`heroes seed`'s data: about 15% with no age, ages 16 to 95);",
        "the service under uvicorn with 1 worker; one client on 127.0.0.1 sending requests one",
        f"after another: {args.warmup} warm-up requests, then {args.requests} timed ones per case",
        f"({args.deep_requests} at the deep offset). Latency is the client's, from sending the",
        "request to the last byte of the answer.",
        "",
    ]
    for database, timings in results.items():
        lines += [f"## {database}", "", "| query | page | p50 ms | p99 ms |", "|---|---|--:|--:|"]
        lines += [f"| {t.query} | {t.paging} | {t.p50_ms:.2f} | {t.p99_ms:.2f} |" for t in timings]
        lines.append("")
    lines += ["Queries (each with `limit=100`):", ""]
    lines += [
        f"- {label}: `{'&'.join(f'{k}={v}' for k, v in q.items())}`"
        for label, q in QUERIES.items()
    ]
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}")


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    python = platform.python_version()
    return f"{os.cpu_count()} cores ({cpu}), Python {python}, load average {load} at the end"


if __name__ == "__main__":
    main()
