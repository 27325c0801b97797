"""What a batch item costs beside a single POST, in-process: the ASGI app called directly.

    .venv/bin/python bench/batch.py                  # SQLite, a temporary file
    .venv/bin/python bench/batch.py --database postgresql://postgres@127.0.0.1:5432/heroes_batch

Side by side, in turn, several rounds of each, on one database (emptied and migrated first:
give it one of its own, never the benchmark's or the tests'):
- `POST /heroes/` 1,000 times (each hero its own request and transaction);
- `create_hero` 1,000 times without HTTP (each hero its own transaction: what a non-atomic
  batch would cost if it wrote each item in a transaction of its own);
- `POST /heroes/batch` with 1,000 heroes, atomic, and non-atomic;
- the same non-atomic batch with one item naming a team that does not exist (the slow
  path: the first attempt is rolled back, and each item runs under a savepoint);
- `POST /heroes/batch` changing 1,000 heroes in teams (each with the version it expects:
  read before, untimed), which locks their teams, then them, and touches the teams.
Figures are per hero: CPU time of this process (`time.process_time`: the server's own
work on PostgreSQL is not in it) and wall time, least and median of the rounds.
"""

import argparse
import asyncio
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inprocess import _call, _prepare_database  # noqa: E402  # after the path is set

HEROES = 1_000
_JSON = [(b"content-type", b"application/json")]
Measure = Callable[[], Awaitable[None]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", help="a server database URL (default: a SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heroes-batch-") as directory:
        os.environ["DATABASE_URL"] = args.database or f"sqlite:///{directory}/heroes.db"
        _prepare_database()
        asyncio.run(_measure(args.rounds))


def _hero(number: int, **fields: Any) -> dict[str, Any]:
    return {"name": f"Batch {number}", "secret_name": f"Secret {number}", "age": 30} | fields


def _post(body: dict[str, Any], path: str = "/heroes/batch") -> tuple[Any, ...]:
    return ("POST", path, b"", json.dumps(body).encode(), _JSON)


async def _measure(rounds: int) -> None:
    service: ASGIApp = importlib.import_module("app.main").app
    heroes = importlib.import_module("app.heroes.service")
    models = importlib.import_module("app.heroes.models")
    async with service.router.lifespan_context(service):  # type: ignore[attr-defined]
        database = service.state.database  # type: ignore[attr-defined]
        single = _post(_hero(0), "/heroes/")
        items = [_hero(number) for number in range(HEROES)]
        bad = [*items[:-1], _hero(HEROES, team_id=10**9)]
        changes: list[dict[str, Any]] = []

        async def posts() -> None:
            for _ in range(HEROES):
                await _call(service, single)

        async def creates() -> None:
            data = models.HeroCreate(**_hero(0))
            for _ in range(HEROES):
                await heroes.create_hero(database, data)

        async def batch(body: dict[str, Any]) -> None:
            await _call(service, _post(body))

        async def read_versions() -> None:
            """Heroes 1 to 1,000 at the versions they are at now (not timed)."""
            found = await database.fetch_all(_versions(), {})
            changes[:] = [{"id": row[0], "version": row[1], "age": 31} for row in found]

        cases: dict[str, tuple[Measure | None, Measure]] = {
            "POST /heroes/, 1,000 requests": (None, posts),
            "create_hero, 1,000 transactions": (None, creates),
            "batch, atomic": (None, lambda: batch({"items": items})),
            "batch, non-atomic": (None, lambda: batch({"atomic": False, "items": items})),
            "batch, non-atomic, 1 bad team": (
                None,
                lambda: batch({"atomic": False, "items": bad}),
            ),
            "batch of 1,000 changes": (read_versions, lambda: batch({"items": changes})),
        }
        await _report(cases, rounds)


def _versions() -> Any:
    statement = importlib.import_module("app.db.statements").Statement
    sqlalchemy = importlib.import_module("sqlalchemy")
    hero = importlib.import_module("app.heroes.models").Hero
    return statement(
        sqlalchemy.select(hero.id, hero.version).where(hero.id <= HEROES).order_by(hero.id)
    )


async def _report(cases: dict[str, tuple[Measure | None, Measure]], rounds: int) -> None:
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(rounds + 1):  # the first round warms caches and prepared statements
        for name, (prepare, measure) in cases.items():
            if prepare is not None:
                await prepare()
            started, begun = time.process_time(), time.perf_counter()
            await measure()
            cpu, wall = time.process_time() - started, time.perf_counter() - begun
            figures[name].append((cpu / HEROES * 1e6, wall / HEROES * 1e6))
    backend = os.environ["DATABASE_URL"].split(":")[0]
    print(f"µs per hero, least / median of {rounds} rounds ({backend}):")
    print(f"  {'':<34} {'CPU':>15} {'wall':>15}")
    for name, measured in figures.items():
        cpus = [each[0] for each in measured[1:]]
        walls = [each[1] for each in measured[1:]]
        print(
            f"  {name:<34} {min(cpus):6.1f} / {statistics.median(cpus):6.1f}"
            f" {min(walls):6.1f} / {statistics.median(walls):6.1f}"
        )


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    main()
