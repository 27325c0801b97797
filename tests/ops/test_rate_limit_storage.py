"""The rate limit's own in-memory storage: the library's answers, expiry on access, and a bound
that drops the least recently used counter."""

import asyncio
import random
from types import SimpleNamespace

import limits.aio.storage.memory
import limits.aio.strategies
import pytest
from limits import RateLimitItem
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from app.http.ratelimit import (
    CLIENT_KEY_MAX_LENGTH,
    Limiter,
    LocalWindows,
    client_key,
    window_of,
)
from app.http.ratelimit_storage import BoundedMemoryStorage
from tests.ops.test_limits import clear_of_a_window_edge


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """One clock for this storage, the library's MemoryStorage and its rate limiter."""
    fake = FakeClock()
    for module in (limits.aio.storage.memory, limits.aio.strategies):
        monkeypatch.setattr(module, "time", SimpleNamespace(time=fake))
    return fake


Answer = tuple[bool, int, float, tuple[int, float, int, float]]


async def answers(
    storage: MemoryStorage | BoundedMemoryStorage,
    item: RateLimitItem,
    requests: list[tuple[float, str]],
    clock: FakeClock,
) -> list[Answer]:
    limiter = SlidingWindowCounterRateLimiter(storage)
    answered = []
    for at, client in requests:
        clock.now = at
        allowed = await limiter.hit(item, client)
        stats = await limiter.get_window_stats(item, client)
        window = await storage.get_sliding_window(item.key_for(client), item.get_expiry())
        answered.append((allowed, stats.remaining, stats.reset_time, window))
        await asyncio.sleep(0)  # MemoryStorage's expiry task runs between requests
    return answered


@pytest.mark.parametrize(
    ("rate", "burst"), [(2, 2), (0.5, 5), (3, 7), (10, 100)], ids=["1s", "10s", "2s", "10s-100"]
)
def test_the_storage_allows_and_refuses_as_the_librarys_memory_storage(
    clock: FakeClock, rate: float, burst: int
) -> None:
    item = window_of(rate, burst)
    rng = random.Random(f"{rate}/{burst}")
    at_the_limit = item.get_expiry() / item.amount / 5  # five clients' mean interval
    requests, at = [], clock.now
    for _ in range(4_000):  # bursts and pauses, a little over the limit on average
        at += at_the_limit * rng.choice([0, 0, 0.1, 1, rng.uniform(0, 6)])
        requests.append((at, f"client-{rng.randrange(5)}"))

    library = asyncio.run(answers(MemoryStorage(), item, requests, clock))
    ours = asyncio.run(answers(BoundedMemoryStorage(clock=clock), item, requests, clock))

    assert ours == library
    allowed = [answer[0] for answer in ours]
    assert allowed.count(True) > 400
    assert allowed.count(False) > 400


def test_an_expired_counter_is_dropped_when_read(clock: FakeClock) -> None:
    async def read_after(seconds: float) -> tuple[int, int]:
        storage = BoundedMemoryStorage(clock=clock)
        await storage.incr("client/1", 2)
        await storage.incr("client/1", 2)
        clock.now += seconds
        return await storage.get("client/1"), len(storage.expirations)

    assert asyncio.run(read_after(1.99)) == (2, 1)
    assert asyncio.run(read_after(2.0)) == (0, 0)


def test_expired_counters_go_when_a_counter_is_created(clock: FakeClock) -> None:
    async def create_after_expiry() -> list[str]:
        storage = BoundedMemoryStorage(clock=clock)
        for n in range(50):
            await storage.incr(f"old/{n}", 2)
        clock.now += 1
        await storage.incr("newer", 2)
        clock.now += 1.5  # the old ones expired; "newer" has 0.5 s to go
        await storage.incr("newest", 2)
        return list(storage.expirations)

    assert asyncio.run(create_after_expiry()) == ["newer", "newest"]


def test_past_the_bound_the_least_recently_used_counter_goes_and_only_it(
    clock: FakeClock,
) -> None:
    async def fill() -> tuple[list[str], dict[str, int]]:
        storage = BoundedMemoryStorage(max_keys=3, clock=clock)
        for key in ("a", "b", "c"):
            await storage.incr(key, 60)
        await storage.get("a")  # read, not written: still a use
        await storage.incr("b", 60)
        await storage.incr("d", 60)  # full: "c" is the least recently used
        return list(storage.expirations), storage.counts

    kept, counts = asyncio.run(fill())

    assert kept == ["a", "b", "d"]
    assert counts == {"a": 1, "b": 2, "d": 1}


def test_a_flood_of_distinct_keys_keeps_the_size_at_the_bound(clock: FakeClock) -> None:
    async def flood() -> tuple[list[int], list[str]]:
        storage = BoundedMemoryStorage(max_keys=100, clock=clock)
        limiter = SlidingWindowCounterRateLimiter(storage)
        item = window_of(0.1, 2)
        sizes = []
        for n in range(1_000):
            clock.now += 0.001
            assert await limiter.hit(item, f"flood-{n}")
            sizes.append(len(storage.expirations))
        return sizes, list(storage.expirations)

    sizes, kept = asyncio.run(flood())

    assert sizes == list(range(1, 101)) + [100] * 900
    assert [key.split("/")[1] for key in kept] == [f"flood-{n}" for n in range(900, 1_000)]


def test_a_client_refused_during_a_flood_keeps_its_window() -> None:
    async def flood() -> list[float | None]:
        limiter = Limiter(LocalWindows(window_of(0.001, 2), max_keys=100))  # 2,000 s windows
        assert [await limiter.acquire("regular") for _ in range(2)] == [None, None]
        waits = []
        for round_ in range(5):  # 300 new addresses, three times the bound
            for n in range(60):
                await limiter.acquire(f"flood-{round_}-{n}")
            waits.append(await limiter.acquire("regular"))
        return waits

    clear_of_a_window_edge(2_000, margin=5)
    waits = asyncio.run(flood())

    assert all(wait is not None for wait in waits)  # a fresh budget would answer None


def test_the_local_windows_run_no_background_task() -> None:
    async def requests() -> list[asyncio.Task[object]]:
        local = LocalWindows(window_of(1, 5))
        for n in range(20):
            await local.wait(f"client-{n % 4}")
        return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]

    assert asyncio.run(requests()) == []


# --- the key a client counts under -------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),  # the same subscriber's other machine
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("not an address " + "x" * 8000, "not an address " + "x" * 49),
    ],
)
def test_a_client_counts_under_its_address_its_ipv6_64_or_a_short_key(
    address: str, key: str
) -> None:
    assert client_key(address) == key
    assert len(client_key(address)) <= CLIENT_KEY_MAX_LENGTH
