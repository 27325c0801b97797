"""Requests released at once from several threads, so that the database sees them together."""

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx

TIMEOUT = 10.0  # seconds: the longest any one request, or a barrier, may wait

Call = Callable[[], httpx.Response]


def race(calls: Sequence[Call]) -> list[httpx.Response]:
    """Run every call on its own thread, all released together; answers in call order."""
    barrier = threading.Barrier(len(calls), timeout=TIMEOUT)

    def released(call: Call) -> httpx.Response:
        barrier.wait()
        return call()

    pool = ThreadPoolExecutor(max_workers=len(calls))
    try:
        futures = [pool.submit(released, call) for call in calls]
        return [future.result(timeout=TIMEOUT) for future in futures]
    finally:
        # Never wait on a stuck request here: the timeout above has already failed the test.
        pool.shutdown(wait=False, cancel_futures=True)
