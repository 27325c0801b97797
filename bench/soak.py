"""A long run of the service: does a worker's resident memory stay flat?

    python bench/soak.py [--requests 1000000] [--database sqlite] [--workers 1]

Serves the service as bench/run.py does (uvicorn, its default settings, 10,000 seeded
heroes), then sends wrk rounds of GET one, GET a list of 100, the filtered sorted list
and PATCH, in turn, until the requests served pass `--requests`. After the warm-up and
after every round it reads each worker's RSS. The report (bench/RESULTS-soak.md) lists the
samples and the growth from the first loaded round to the last: a leak grows with the
requests, a cache fills once and stays.
"""

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402  # the repository's root first, as above
    APP_INFO,
    DEFAULT_POSTGRES,
    Databases,
    Server,
    WrkRun,
    ensure_wrk,
    log,
    machine_lines,
    run_wrk,
)

ROUND_ENDPOINTS = ("get_one", "list", "search", "patch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--round", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS-soak.md")
    options = parser.parse_args()
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="heroes-soak-") as workdir:
        databases = Databases(options.postgres_url, Path(workdir))
        if options.database == "postgresql":
            databases.ensure_postgres_database()
        databases.create_table(options.database, "service")
        databases.seed(options.database, "service")
        server = Server(
            APP_INFO["service"],
            options.workers,
            databases.url(options.database, "service"),
            Path(workdir),
        )
        try:
            samples = soak(server, wrk, options)
        finally:
            server.stop()
    options.output.write_text(report(options, samples))
    log(f"wrote {options.output}")


Sample = tuple[int, float, list[float]]  # requests so far, seconds so far, RSS per worker


def soak(server: Server, wrk: str, options: argparse.Namespace) -> list[Sample]:
    started = time.monotonic()
    for endpoint in ROUND_ENDPOINTS:  # warm-up: every statement compiled once
        run_wrk(wrk, WrkRun(server.port, endpoint, 8, 1, "2s"))
    samples: list[Sample] = [(0, 0.0, server.rss_mb())]
    served = 0
    while served < options.requests:
        for endpoint in ROUND_ENDPOINTS:
            run = WrkRun(server.port, endpoint, options.connections, options.round, "2s")
            result = run_wrk(wrk, run)
            served += result.requests
        samples.append((served, time.monotonic() - started, server.rss_mb()))
        log(f"{served:,} requests: RSS {', '.join(f'{mb:.1f}' for mb in samples[-1][2])} MB")
    return samples


def report(options: argparse.Namespace, samples: list[Sample]) -> str:
    first_loaded, last = samples[1][2], samples[-1][2]
    growth = max(b - a for a, b in zip(first_loaded, last, strict=False))
    lines = [
        "# Soak: resident memory over a long run",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{' '.join(['bench/soak.py', *sys.argv[1:]])}`",
        f"- Service on {options.database}, {options.workers} worker(s), "
        f"{options.connections} connections, wrk rounds of {options.round} s over "
        f"{', '.join(ROUND_ENDPOINTS)}",
        *machine_lines(),
        "",
        f"Growth per worker from the first loaded round to the last: **{growth:+.1f} MB** "
        f"over {samples[-1][0] - samples[1][0]:,} requests (MB = 10^6 bytes).",
        "",
        "| requests served | seconds | RSS per worker, MB |",
        "|--:|--:|---|",
    ]
    for served, seconds, sizes in samples:
        rss = ", ".join(f"{mb:.1f}" for mb in sizes)
        label = "after warm-up" if served == 0 else f"{served:,}"
        lines.append(f"| {label} | {seconds:.0f} | {rss} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
