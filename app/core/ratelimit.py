"""A per-client rate limit: a token bucket of `burst` requests refilled at `rate` per second.

With REDIS_URL set the buckets live in Redis, so that every worker and instance draws on
the same ones; without it, or while Redis cannot be reached, each worker keeps its own.
"""

import math
import time
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.errors import RateLimited, error_response
from app.observability.context import mark_error_kind

CLIENT_KEY_MAX_LENGTH = 64


class Limiter(Protocol):
    async def acquire(self, client: str) -> float | None:
        """None when the client may go ahead, else the seconds until it may."""

    async def close(self) -> None: ...


class MemoryLimiter:
    """Buckets in this process; idle clients are forgotten once their bucket is full again."""

    def __init__(self, rate: float, burst: int, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when)

    async def acquire(self, client: str) -> float | None:
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

    async def close(self) -> None:
        return None


def create_limiter(
    rate: float, burst: int, redis_url: str | None, prefix: str, timeout: float
) -> Limiter:
    local = MemoryLimiter(rate, burst)
    if redis_url is None:
        return local
    # Imported only when asked for: the Redis client costs each worker about 6 MB.
    from app.core.ratelimit_redis import RedisLimiter  # noqa: PLC0415

    return RedisLimiter.connect(redis_url, prefix + "ratelimit:", local, timeout)


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
        if self.client_header is not None:
            for name, value in scope["headers"]:
                if name == self.client_header:
                    # The proxy appends the address it saw: trust only the last one.
                    given: str = value.decode("latin-1").rsplit(",", 1)[-1].strip()
                    if given:
                        return given[:CLIENT_KEY_MAX_LENGTH]
        peer = scope.get("client")
        return str(peer[0]) if peer else "unknown"
