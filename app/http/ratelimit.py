"""A per-client rate limit on the `limits` library's sliding window counter.

A client may make `burst` requests in a window of `burst / rate` seconds (whole seconds, at
least one; with a one-second window, at least `rate` requests). A request is refused when the
window's own requests plus the previous window's, weighted by the share of that window still
within the last `burst / rate` seconds, already make `burst`. So a spent burst comes back at
`rate` per second as its window slides out, starting when the window it was spent in ends.
In memory the windows are aligned on the clock; in Redis each client's start with its first
request. `limits` keeps two counters per client either way.

Its exact moving window was measured and refused: its MemoryStorage expires entries with one
thread hop per client, back to back while requests arrive: one CPU core busy with 100 clients
(2.1 s of CPU in 2.2 s of 1,000 requests a second), and `burst` timestamps per client.

With REDIS_URL set the windows live in Redis, so that every worker and instance draws on the
same ones; without it, or while Redis cannot be reached, each worker keeps its own, in a
storage of ours (`ratelimit_storage.py`): the library's MemoryStorage costs each request
more the more clients it knows.
"""

import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import RateLimiter, SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.errors import RateLimited, error_response
from app.http.ratelimit_storage import BoundedMemoryStorage
from app.observability.context import mark_error_kind

CLIENT_KEY_MAX_LENGTH = 64
IPV6 = 6
logger = logging.getLogger(__name__)


def window_of(rate: float, burst: int) -> RateLimitItem:
    """`burst` requests per `burst / rate` seconds; `limits` counts whole seconds."""
    seconds = max(1, round(burst / rate))
    return RateLimitItemPerSecond(max(burst, round(rate * seconds)), seconds)


async def seconds_to_wait(
    limiter: RateLimiter, item: RateLimitItem, client: str, *, count: bool = True
) -> float | None:
    """None when the client may go ahead, else the seconds to the library's reset time;
    with `count` False, without counting this request."""
    if await (limiter.hit if count else limiter.test)(item, client):
        return None
    stats = await limiter.get_window_stats(item, client)
    return stats.reset_time - time.time()


class LocalWindows:
    """The windows of this worker, at most `max_keys` counters (two per client); past that
    the least recently used go first, so that a flood of addresses costs neither memory nor
    time without bound (`BoundedMemoryStorage`)."""

    def __init__(self, item: RateLimitItem, max_keys: int = 10_000) -> None:
        self.item = item
        self.storage = BoundedMemoryStorage(max_keys)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)

    async def wait(self, client: str, *, count: bool = True) -> float | None:
        return await seconds_to_wait(self.limiter, self.item, client, count=count)


class Limiter:
    """Windows shared in Redis (`shared`), in this worker's memory while Redis is away.

    A failed call to Redis makes the next `retry_after` seconds local, so that a dead Redis
    costs one timeout a second rather than one per request; each outage logs two warnings.
    """

    def __init__(
        self,
        local: LocalWindows,
        shared: RateLimiter | None = None,
        close_shared: Callable[[], Awaitable[None]] | None = None,
        retry_after: float = 1.0,
    ) -> None:
        self.local = local
        self.shared = shared
        self.close_shared = close_shared
        self.retry_after = retry_after
        self._down_until: float | None = None

    async def acquire(self, client: str, *, count: bool = True) -> float | None:
        """None when the client may go ahead, else the seconds until it may; with `count`
        False, a look that spends nothing (counting only what fails, say)."""
        if self.shared is None or self._resting():
            return await self.local.wait(client, count=count)
        try:
            wait = await seconds_to_wait(self.shared, self.local.item, client, count=count)
        except StorageError as error:
            self._went_away(error.storage_error)
            return await self.local.wait(client, count=count)
        if self._down_until is not None:
            self._down_until = None
            logger.warning("rate limit: Redis is back; limits are shared again")
        return wait

    def _resting(self) -> bool:
        return self._down_until is not None and time.monotonic() < self._down_until

    def _went_away(self, error: Exception) -> None:
        if self._down_until is None:
            logger.warning(
                "rate limit: Redis unavailable (%s); limiting per worker until it is back",
                type(error).__name__,
            )
        self._down_until = time.monotonic() + self.retry_after

    async def close(self) -> None:
        if self.close_shared is not None:
            await self.close_shared()


def create_limiter(
    rate: float, burst: int, redis_url: str | None, prefix: str, timeout: float
) -> Limiter:
    return create_windows(window_of(rate, burst), redis_url, prefix + "ratelimit", timeout)


def create_windows(
    item: RateLimitItem, redis_url: str | None, key_prefix: str, timeout: float
) -> Limiter:
    """A Limiter of `item`'s windows, kept in Redis under `key_prefix` when there is one."""
    local = LocalWindows(item)
    if redis_url is None:
        return Limiter(local)
    # Imported only when asked for: the Redis client costs each worker 5.6 MB.
    from redis.asyncio import ConnectionPool  # noqa: PLC0415

    pool = ConnectionPool.from_url(
        redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    storage = RedisStorage(
        "async+" + redis_url,
        wrap_exceptions=True,
        implementation="redispy",  # the `redis` package we have, not a second client
        key_prefix=key_prefix,
        connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis.asyncio.Redis
    )
    return Limiter(local, SlidingWindowCounterRateLimiter(storage), pool.aclose)


class RateLimitMiddleware:
    """Answer 429 with Retry-After to a client over its rate; `exempt` paths are never limited."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: Limiter,
        client_header: str | None,
        exempt: frozenset[str],
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.client_header = client_header.encode("latin-1") if client_header else None
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        wait = await self.limiter.acquire(self._client(scope))
        if wait is None:
            await self.app(scope, receive, send)
            return
        mark_error_kind(scope, RateLimited.__name__)
        response = error_response(RateLimited)
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        await response(scope, receive, send)

    def _client(self, scope: Scope) -> str:
        return client_of(scope, self.client_header)


def client_of(scope: Scope, client_header: bytes | None) -> str:
    """The key of the client that sent a request: the last address of `client_header`
    when a proxy sets one (RATE_LIMIT_CLIENT_HEADER, lower-cased), else the peer's."""
    if client_header is not None:
        lines = [value for name, value in scope["headers"] if name == client_header]
        # The proxy appends the address it saw, to its own line or the last one: the last
        # address of all the lines is the only one no client chose.
        given = b",".join(lines).decode("latin-1").rsplit(",", 1)[-1].strip()
        if given:
            return client_key(given)
    peer = scope.get("client")
    return client_key(str(peer[0])) if peer else "unknown"


def client_key(address: str) -> str:
    """The key a client's requests count under: an IPv6 address stands for its /64, which
    one subscriber is commonly given whole (else one machine could mint keys without end
    and push other clients' windows out); anything else, cut to CLIENT_KEY_MAX_LENGTH."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:CLIENT_KEY_MAX_LENGTH]
    if parsed.version == IPV6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
