"""What the rate limit costs a request in memory: the service's storage beside the alternatives.

    .venv/bin/python bench/ratelimit.py                   # CPU µs per request
    .venv/bin/python bench/ratelimit.py --rounds 9 --count 20000 --per-turn 1

Each limiter answers the same requests, round-robin over 1, 1,000, 10,000 and 100,000
distinct clients (the last past the service's bound: each request evicts a counter), at a
limit none of them reaches (every request admitted, the common path), and for 1 client over
its limit (every request refused). The limiters:

- `no limit`: answers at once; what the harness itself costs;
- `service`: `app.http.ratelimit.LocalWindows`, the windows of one worker as they are now
  (`limits`' sliding window counter on `BoundedMemoryStorage`, 10,000 counters at most);
- `limits MemoryStorage`: the same strategy on the library's own async MemoryStorage;
- `token bucket`: the service's hand-written bucket before it moved onto `limits` (commit
  e2fec16, `app/core/ratelimit.py`'s `MemoryLimiter`), copied here as it was.

As in a server, the requests share one event loop, which turns every `--per-turn` requests
(MemoryStorage's expiry task runs on the turn after a request). Every limiter is created
once per scenario and warmed by one pass over its clients, so the rounds measure the steady
state; the rounds take turns, limiter after limiter, in one process. The figure is CPU time
(`time.process_time`) per request, the least and the median of the rounds.
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Protocol

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from app.http.ratelimit import LocalWindows, seconds_to_wait, window_of


class Waiter(Protocol):
    async def wait(self, client: str) -> float | None: ...


class NoLimit:
    async def wait(self, client: str) -> float | None:
        return None


class LibraryMemory:
    """The sliding window counter on `limits`' MemoryStorage, as the service had it."""

    def __init__(self, item: RateLimitItem) -> None:
        self.item = item
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def wait(self, client: str) -> float | None:
        return await seconds_to_wait(self.limiter, self.item, client)


class TokenBucket:
    """`MemoryLimiter` of commit e2fec16 (`app/core/ratelimit.py`), as it was."""

    def __init__(self, rate: float, burst: int, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when)

    async def wait(self, client: str) -> float | None:
        return self.take(client)

    def take(self, client: str) -> float | None:
        now = time.monotonic()
        tokens, when = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate
        if len(self._buckets) >= self.max_clients:
            self._forget_idle(now)
        self._buckets[client] = (tokens - 1, now)
        return None

    def _forget_idle(self, now: float) -> None:
        refill = self.burst / self.rate
        self._buckets = {
            client: bucket for client, bucket in self._buckets.items() if now - bucket[1] < refill
        }
        if len(self._buckets) >= self.max_clients:  # a flood of addresses: start afresh
            self._buckets.clear()


Make = Callable[[float, int], Waiter]  # (rate, burst) -> a limiter
LIMITERS: dict[str, Make] = {
    "no limit": lambda rate, burst: NoLimit(),
    "service": lambda rate, burst: LocalWindows(window_of(rate, burst)),
    "limits MemoryStorage": lambda rate, burst: LibraryMemory(window_of(rate, burst)),
    "token bucket": TokenBucket,
}
# name -> (clients, rate, burst, admitted): 3,600,000 requests an hour is never reached here.
SCENARIOS = {
    "1 client": (1, 1_000.0, 3_600_000, True),
    "1,000 clients": (1_000, 1_000.0, 3_600_000, True),
    "10,000 clients": (10_000, 1_000.0, 3_600_000, True),
    "100,000 clients": (100_000, 1_000.0, 3_600_000, True),
    "1 client, refused": (1, 1.0, 1, False),
}
# About 2 ms a request: a round would take 20 s.
NOT_RUN = {("100,000 clients", "limits MemoryStorage")}
Timings = dict[str, dict[str, list[float]]]  # scenario -> limiter -> µs per request


async def one_round(
    limiter: Waiter, clients: list[str], start: int, count: int, per_turn: int
) -> float:
    """CPU µs per request for `count` requests round-robin over `clients`, from `start`."""
    started = time.process_time()
    for n in range(start, start + count):
        await limiter.wait(clients[n % len(clients)])
        if n % per_turn == per_turn - 1:
            await asyncio.sleep(0)
    return (time.process_time() - started) * 1e6 / count


async def measure(args: argparse.Namespace) -> Timings:
    timings: Timings = {scenario: {} for scenario in SCENARIOS}
    limiters: dict[str, dict[str, Waiter]] = {}
    for scenario, (clients, rate, burst, admitted) in SCENARIOS.items():
        limiters[scenario] = {
            name: make(rate, burst)
            for name, make in LIMITERS.items()
            if (scenario, name) not in NOT_RUN
        }
        for name, limiter in limiters[scenario].items():  # warm, and check the path measured
            for client in addresses(clients):
                await limiter.wait(client)
            answer = await limiter.wait(addresses(clients)[0])
            assert name == "no limit" or (answer is None) == admitted, (scenario, name)
    for round_ in range(args.rounds):
        for scenario, (clients, *_) in SCENARIOS.items():
            keys = addresses(clients)
            for name, limiter in limiters[scenario].items():
                start = round_ * args.count  # each round goes on where the last stopped
                figure = await one_round(limiter, keys, start, args.count, args.per_turn)
                timings[scenario].setdefault(name, []).append(figure)
    return timings


def addresses(count: int) -> list[str]:
    return [f"198.51.{n // 256}.{n % 256}" for n in range(count)]


def report(timings: Timings, args: argparse.Namespace) -> None:
    print(
        f"CPU µs per request, least / median of {args.rounds} rounds of {args.count},"
        f" a loop turn every {args.per_turn} requests:"
    )
    names = list(LIMITERS)
    print(f"  {'':<18}" + "".join(f" {name:>22}" for name in names))
    for scenario, figures in timings.items():
        cells = [
            f"{min(figures[name]):.2f} / {statistics.median(figures[name]):.2f}"
            if name in figures
            else "not run"
            for name in names
        ]
        print(f"  {scenario:<18}" + "".join(f" {cell:>22}" for cell in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=10_000, help="requests per round")
    parser.add_argument("--per-turn", type=int, default=4, help="requests per loop turn")
    args = parser.parse_args()
    report(asyncio.run(measure(args)), args)


if __name__ == "__main__":
    main()
