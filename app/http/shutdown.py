"""Hearing that the server stops while responses are still streaming.

On SIGTERM (or SIGINT) uvicorn stops accepting connections, then waits for every
response in flight to end (up to GRACEFUL_TIMEOUT) before it runs the lifespan's end: a
response that streams until told otherwise (the change feed's events) would hold the
worker for the whole grace period and be cut off without a word. So the app listens for
the same signals itself, beside the server: `on_stop_signal` chains a callback before the
handler the server installed, which still runs as before.
"""

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_stop_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` on the running loop when a stop signal arrives, then the handler
    the server installed; returns what puts that handler back. Does nothing (returns a
    no-op) outside the main thread, where signals cannot be heard (an app under a test
    client), or when no server handles the signal."""
    if threading.current_thread() is not threading.main_thread():
        return _nothing
    loop = asyncio.get_running_loop()
    previous = {each: signal.getsignal(each) for each in STOP_SIGNALS}
    chained: dict[int, Callable[[int, FrameType | None], Any]] = {
        each: handler for each, handler in previous.items() if callable(handler)
    }

    def handle(number: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        chained[number](number, frame)

    for each in chained:
        signal.signal(each, handle)

    def restore() -> None:
        for each, handler in chained.items():
            if signal.getsignal(each) is handle:
                signal.signal(each, handler)

    return restore


def _nothing() -> None:
    return None
