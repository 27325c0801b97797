"""Prometheus metrics, correct across worker processes.

With several workers, `heroes serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory
before any worker starts: each worker then writes its samples to memory-mapped files there,
and whichever worker answers /metrics adds up every worker's files. prometheus-client reads
the variable when it is imported, so it must be set before the app is.
"""

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from app.db import Database

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Label values must stay few: unknown methods and unmatched paths share one value each.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"

REQUESTS = Counter(
    "heroes_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "heroes_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_FLIGHT = Gauge(
    "heroes_http_requests_in_flight",
    "Requests being served now.",
    multiprocess_mode="livesum",
)
POOL_IN_USE = Gauge(
    "heroes_db_pool_connections_in_use",
    "Database connections checked out of the pool.",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "heroes_db_pool_waiting",
    "Requests waiting for a database connection from the pool.",
    multiprocess_mode="livesum",
)
ERRORS = Counter(
    "heroes_errors_total",
    "Requests answered with an error (status 400 or more), by kind.",
    ["kind"],
)

# Keyed by the labels, never by what the client sent: one entry per method name grew it by
# 15 MB over 60,000 names under h11, which passes any token as a method.
_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    label = method if method in _METHODS else "other"
    key = (label, route, status)
    child = _children.get(key)
    if child is None:  # `labels()` takes a lock and builds a tuple: cache its result
        child = (REQUESTS.labels(label, route, str(status)), LATENCY.labels(label, route))
        _children[key] = child
    child[0].inc()
    child[1].observe(seconds)


def record_pool(database: Database) -> None:
    """How busy this worker's database connections are (app/db)."""
    usage = database.pool_usage()
    POOL_IN_USE.set(usage.in_use)
    POOL_WAITING.set(usage.waiting)


def render() -> bytes:
    directory = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if not directory:
        return generate_latest(REGISTRY)
    forget_dead_workers(Path(directory))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]  # untyped upstream
    return generate_latest(registry)


def forget_dead_workers(directory: Path) -> None:
    """Drop the live gauges of workers that died (uvicorn replaces them without telling us)."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]  # untyped upstream


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_multiprocess_directory(directory: Path) -> None:
    """An empty directory: samples left by an earlier run would be added to this one's."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        path.unlink()
