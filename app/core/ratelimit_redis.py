"""The rate limit's buckets in Redis, shared by every worker and instance (REDIS_URL)."""

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.ratelimit import MemoryLimiter

logger = logging.getLogger("app.core.ratelimit")

# Atomic take from the bucket in KEYS[1]: Redis' own clock, so that instances agree.
_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'when')
local tokens = tonumber(bucket[1]) or burst
local when = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - when) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'when', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisLimiter:
    """Buckets shared in Redis, falling back to `fallback` while Redis is away."""

    def __init__(
        self, client: Redis, prefix: str, fallback: MemoryLimiter, retry_after: float = 1.0
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.fallback = fallback
        self.retry_after = retry_after
        self._take = client.register_script(_TAKE)
        self._down_until: float | None = None

    async def acquire(self, client: str) -> float | None:
        if self._down_until is not None and time.monotonic() < self._down_until:
            return self.fallback.take(client)
        rate, burst = self.fallback.rate, self.fallback.burst
        try:
            wait = float(await self._take(keys=[self.prefix + client], args=[rate, burst]))
        except (RedisError, OSError) as error:
            self._went_away(error)
            return self.fallback.take(client)
        if self._down_until is not None:
            self._down_until = None
            logger.warning("rate limit: Redis is back; limits are shared again")
        return wait if wait > 0 else None

    def _went_away(self, error: Exception) -> None:
        if self._down_until is None:
            logger.warning(
                "rate limit: Redis unavailable (%s); limiting per worker until it is back",
                type(error).__name__,
            )
        self._down_until = time.monotonic() + self.retry_after

    @classmethod
    def connect(
        cls, redis_url: str, prefix: str, fallback: MemoryLimiter, timeout: float
    ) -> "RedisLimiter":
        client = Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, prefix, fallback)

    async def close(self) -> None:
        await self.client.aclose()
