"""Waking followers on every instance when changes are numbered.

After a round of its sequencer numbered changes, this worker pokes its watch (watch.py)
and, with REDIS_URL set, publishes a tiny message on a Redis channel that every worker of
every instance listens to; a message pokes the receiver's watch, whose next read finds the
changes in the database. Redis only wakes: the change log stays the truth, and each watch
still reads it every CHANGES_POLL_SECONDS while followers wait. So with Redis away,
followers on other instances hear of a change within that time instead of within
milliseconds, and nothing else changes: a round never waits for Redis (a task of its own
publishes, one message for all the rounds made while it was busy), and a write never
fails because of it.
"""

import asyncio
import logging
import time
import uuid
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from app.kit.changes.watch import ChangeWatch

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("app.changes")

RETRY_SECONDS = 1.0
"""How long Redis is left alone after it failed: an outage costs a timeout a second."""
HEALTH_SECONDS = 5.0
"""How long the listening connection may be quiet before Redis is asked if it is there."""


class Wakeups:
    """Made by `create_app` (no I/O); `start`, in the lifespan, listens to Redis."""

    def __init__(
        self, watch: ChangeWatch, redis_url: str | None, channel: str, timeout: float
    ) -> None:
        self.watch = watch
        self.redis_url = redis_url
        self.channel = channel
        self.timeout = timeout
        self._pending: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._down_since: float | None = None
        self._me = uuid.uuid4().hex.encode()  # this worker's messages wake the others only

    def start(self) -> None:
        if self.redis_url is None:
            return
        # Imported only when asked for: the Redis client costs each worker 5.6 MB.
        from redis.asyncio import Redis  # noqa: PLC0415
        from redis.asyncio.retry import Retry  # noqa: PLC0415
        from redis.backoff import NoBackoff  # noqa: PLC0415

        self._pending = asyncio.Event()
        # Once more at once, on a new connection: the old one may be to a Redis restarted
        # since. No backoff: a wait is what the timeout and RETRY_SECONDS are for.
        options: dict[str, Any] = {
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "retry": Retry(NoBackoff(), 1),
        }
        publisher = Redis.from_url(self.redis_url, **options)
        listener = Redis.from_url(self.redis_url, health_check_interval=HEALTH_SECONDS, **options)
        self._tasks = [
            asyncio.create_task(self._publish(publisher)),
            asyncio.create_task(self._listen(listener)),
        ]

    def numbered(self) -> None:
        """Changes were numbered: wake this worker's followers, and (soon) every other's."""
        self.watch.poke()
        if self._pending is not None:
            self._pending.set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks, self._pending = [], None

    async def _publish(self, redis: "Redis") -> None:
        assert self._pending is not None  # noqa: S101  # set by start, before this task
        try:
            while True:
                await self._pending.wait()
                self._pending.clear()
                try:
                    async with asyncio.timeout(self.timeout):
                        await redis.publish(self.channel, self._me)
                except Exception as error:  # any failure: Redis is away
                    self._away(error)
                    await asyncio.sleep(RETRY_SECONDS)
                else:
                    self._back()
        finally:
            await redis.aclose()

    async def _listen(self, redis: "Redis") -> None:
        try:
            while True:
                try:
                    await self._listen_once(redis)
                except Exception as error:  # any failure: Redis is away
                    self._away(error)
                    await asyncio.sleep(RETRY_SECONDS)
        finally:
            await redis.aclose()

    async def _listen_once(self, redis: "Redis") -> None:
        async with redis.pubsub(ignore_subscribe_messages=True) as messages:
            await messages.subscribe(self.channel)
            self._back()
            self.watch.poke()  # a message may have been missed while away
            while True:
                message = await messages.get_message(timeout=HEALTH_SECONDS)
                if message is not None and message["data"] != self._me:
                    self.watch.poke()

    def _away(self, error: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            logger.warning(
                "change feed: Redis unavailable (%s); followers on other instances hear of "
                "changes by polling (CHANGES_POLL_SECONDS) until it is back",
                type(error).__name__,
            )

    def _back(self) -> None:
        if self._down_since is not None:
            self._down_since = None
            logger.warning("change feed: Redis is back; followers are woken at once again")
