"""The rate limit's windows in this worker's memory: a `limits` storage whose cost per request
does not grow with the number of clients."""

import time
from collections import OrderedDict
from collections.abc import Callable
from math import floor

from limits.aio.storage import SlidingWindowCounterSupport, Storage
from limits.storage.base import TimestampedSlidingWindow


class BoundedMemoryStorage(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """The sliding window counter's counters, at most `max_keys` of them, for one event loop.

    The arithmetic is MemoryStorage's, so both allow and refuse alike. A counter lives two
    windows from its first request, as there; an expired one is dropped when it is next read,
    and with the oldest unused ones whenever a counter is created. Past `max_keys` the least
    recently used counter goes, one per new counter: a client that keeps asking, even refused,
    keeps its own while a flood of addresses passes. No call awaits anything, so each runs
    whole on the event loop and needs no lock. `counts` and `expirations` are named as
    MemoryStorage names them; `expirations` is kept least recently used first.

    Why it is ours: MemoryStorage's expiry task walks every counter on each turn of the event
    loop that saw a request: 7.6 µs a request with 1 client, 26 with 1,000, 221 with 10,000;
    this storage 3.8-4.3 whatever the number (5.0 past the bound, evicting on each request;
    the old token bucket 1.1-1.5). bench/PROFILE.md, "The rate limit's windows in memory: a
    storage of our own for `limits` (2026-12-02)"; `python bench/ratelimit.py`.
    """

    def __init__(self, max_keys: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        super().__init__(wrap_exceptions=False)
        self.max_keys = max_keys
        self.clock = clock
        self.counts: dict[str, int] = {}
        self.expirations: OrderedDict[str, float] = OrderedDict()

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError  # the base class asks for one; nothing here raises to a caller

    async def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        if amount > limit:
            return False
        now = self.clock()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous_count, previous_ttl, current_count, _ = self._window(
            previous_key, current_key, expiry, now
        )
        if floor(previous_count * previous_ttl / expiry + current_count) + amount > limit:
            return False
        if current_count:  # live, and just made the most recently used
            current_count = self.counts[current_key] = current_count + amount
        else:
            current_count = self._add(current_key, amount, 2 * expiry, now)
        # MemoryStorage checks again after adding; floats can round the sum up past the limit.
        if floor(previous_count * previous_ttl / expiry + current_count) > limit:
            self.counts[current_key] -= amount
            return False
        return True

    async def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        now = self.clock()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        return self._window(previous_key, current_key, expiry, now)

    async def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self.sliding_window_keys(key, expiry, self.clock()):
            self._drop(window_key)

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        return self._add(key, amount, expiry, self.clock())

    async def get(self, key: str) -> int:
        return self._count(key, self.clock())

    async def get_expiry(self, key: str) -> float:
        now = self.clock()
        self._count(key, now)  # drops it if expired
        return self.expirations.get(key, now)

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        dropped = len(self.counts)
        self.counts.clear()
        self.expirations.clear()
        return dropped

    async def clear(self, key: str) -> None:
        self._drop(key)

    def _window(
        self, previous_key: str, current_key: str, expiry: int, now: float
    ) -> tuple[int, float, int, float]:
        """MemoryStorage's `_get_sliding_window_info`, term for term."""
        previous_count = self._count(previous_key, now)
        current_count = self._count(current_key, now)
        previous_ttl = 0.0
        if previous_count:
            previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous_count, previous_ttl, current_count, current_ttl

    def _count(self, key: str, now: float) -> int:
        """The counter's value, 0 once expired; reading it makes it the most recently used."""
        expires = self.expirations.get(key)
        if expires is None:
            return 0
        if expires <= now:
            self._drop(key)
            return 0
        self.expirations.move_to_end(key)
        return self.counts[key]

    def _add(self, key: str, amount: int, expiry: float, now: float) -> int:
        count = self._count(key, now) + amount
        if key not in self.expirations:
            self._make_room(now)
        if count == amount:  # a new counter, or one brought back from 0: its lifetime starts
            self.expirations[key] = now + expiry
        self.counts[key] = count
        return count

    def _make_room(self, now: float) -> None:
        """Drop the expired counters at the unused end, then the least recently used one if
        still full. Each counter is dropped at most once: O(1) a request, amortised."""
        expirations = self.expirations
        while expirations:
            stalest = next(iter(expirations))
            if expirations[stalest] > now:
                break
            self._drop(stalest)
        if expirations and len(expirations) >= self.max_keys:
            self._drop(next(iter(expirations)))

    def _drop(self, key: str) -> None:
        self.counts.pop(key, None)
        self.expirations.pop(key, None)
