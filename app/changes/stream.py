"""The change feed as Server-Sent Events: `GET /changes` with `Accept: text/event-stream`.

Each change is an event: `id:` its position (as a JSON page's `position`), `event:
change`, `data:` the change as JSON, shaped as the JSON feed's items. A client resumes by
sending the last id it saw as `Last-Event-ID` (a browser's EventSource does by itself)
or as `since`. Besides changes a stream sends:

- `bookmark`, with the position reached as its id: first (where the stream starts), then
  whenever the follower's position moved past changes its filters hide, at most once a
  second, so that a filtered follower resumes from close by and never falls out of
  retention;
- a comment line after CHANGES_HEARTBEAT_SECONDS of silence, so that the client and the
  proxies between know the stream lives;
- `reset`, then the end, for a position older than the log keeps: list again. It has no
  id, so a client that reconnects by itself is told again rather than skipping changes;
- `reconnect` with `retry:` (milliseconds) and the position as its id, then the end, when
  the worker stops or cannot read the database, or when the token the stream was opened
  with expires (READ_POLICY=signed_in): reconnect, to any instance (with a fresh token),
  and resume.

A client that reads nothing for CLIENT_SEND_TIMEOUT seconds while the stream has
something to send is let go. Each stream costs one task beside its request's, and its
changes come from the worker's memory (app/kit/changes/watch.py).
"""

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from anyio import CancelScope
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.db import DatabaseUnavailable
from app.kit.changes.feed import Filters, PositionGone, Since, position_token
from app.kit.changes.watch import Batch, ChangeWatch, Encode, Followed
from app.kit.listing.cursors import CursorCodec

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""Never stored, and never buffered by nginx (which would hold events back)."""
BOOKMARK_SECONDS = 1.0
RETRY_MS = (1000, 3000)
"""A reconnect's `retry:` is drawn from here: the clients of a stopping worker come back
spread over two seconds, not all at once."""
HEARTBEAT = b":\n\n"
logger = logging.getLogger("app.changes")


@dataclass(frozen=True, slots=True)
class StreamSettings:
    heartbeat: float  # CHANGES_HEARTBEAT_SECONDS
    send_timeout: float  # CLIENT_SEND_TIMEOUT
    until: float | None = None  # when (time.monotonic()) the reader's token expires


def wants_events(accept: str | None) -> bool:
    """Whether an Accept header asks for text/event-stream (with a q above 0)."""
    for media_range in (accept or "").lower().split(","):
        kind, *parameters = (part.strip() for part in media_range.split(";"))
        if kind == MEDIA_TYPE:
            return not any(p.replace(" ", "") in {"q=0", "q=0.0", "q=0.00"} for p in parameters)
    return False


def encoder(codec: CursorCodec) -> Encode:
    """What a stream sends for a change: made once per worker (ChangeWatch keeps it)."""

    def encode(change: dict[str, Any]) -> bytes:
        return change_event(change, position_token(change["position"], codec))

    return encode


def change_event(change: dict[str, Any], token: str) -> bytes:
    """A change's event, its position shown (and its id) as `token`."""
    return event(b"change", orjson.dumps(change | {"position": token}), token)


def event(kind: bytes, data: bytes, token: str | None = None, retry: int | None = None) -> bytes:
    lines = [] if token is None else [b"id: " + token.encode()]
    lines.append(b"event: " + kind)
    if retry is not None:
        lines.append(b"retry: %d" % retry)
    return b"\n".join([*lines, b"data: " + data]) + b"\n\n"


@dataclass(frozen=True, slots=True)
class Follow:
    """What a stream follows: from `start`, with the first batch already read."""

    watch: ChangeWatch
    start: Since
    first: Batch | None  # None: `start` is older than the log keeps
    filters: Filters
    limit: int
    codec: CursorCodec


class ChangeStream(Response):
    """An endless response: the events of `follow`, until the client leaves, stalls, or
    the stream says `reset` or `reconnect`."""

    media_type = MEDIA_TYPE

    def __init__(self, follow: Follow, settings: StreamSettings) -> None:
        self.follow = follow
        self.settings = settings
        self.status_code = 200
        self.background = None
        self.init_headers(HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if not await self._stream(receive, send):
            return  # the client stalled: the response stays unfinished, the server closes
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _stream(self, receive: Receive, send: Send) -> bool:
        """False when the client stalled."""
        follower = _Follower(self.follow, self.settings, send)
        async with anyio.create_task_group() as group:
            group.start_soon(_cancel_when_gone, receive, group.cancel_scope)
            try:
                await follower.run()
            except _Stalled:
                logger.info(
                    "change stream: the client read nothing for %s s; let go",
                    self.settings.send_timeout,
                )
                return False
            finally:
                group.cancel_scope.cancel()
        return True


async def _cancel_when_gone(receive: Receive, scope: CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


class _Stalled(Exception):
    """The client read nothing for CLIENT_SEND_TIMEOUT seconds."""


class _Follower:
    def __init__(self, follow: Follow, settings: StreamSettings, send: Send) -> None:
        self.follow = follow
        self.watch = follow.watch
        self.settings = settings
        self.send = send
        self.since = follow.start
        self.shown = -1  # the last position the client was given as an id
        self.spoke = self.bookmarked = time.monotonic()

    async def run(self) -> None:
        batch = self.follow.first
        if batch is None:
            await self.reset()
            return
        await self.bookmark()
        while batch is not None:
            await self.show(batch)
            if len(batch.changes) < self.follow.limit:  # else more is there at once
                await self.wait()
            batch = await self.next_batch()

    async def next_batch(self) -> Batch | None:
        """The next changes, or None once the stream's last event is said."""
        if self.watch.closed or self.expired():
            await self.reconnect()
            return None
        try:
            return await self.watch.changes_after(
                self.since, self.follow.filters, self.follow.limit
            )
        except PositionGone:
            await self.reset()
        except DatabaseUnavailable:
            await self.reconnect()
        return None

    async def show(self, batch: Batch) -> None:
        if batch.changes:
            await self.say(b"".join(map(self.shown_as, batch.changes)))
            self.shown = batch.changes[-1].position
        self.since = self.since.moved(batch.position)
        if self.bookmark_due() and time.monotonic() >= self.bookmarked + BOOKMARK_SECONDS:
            await self.bookmark()

    async def wait(self) -> None:
        """Until the clock passes the follower's position (or the watch closes); a due
        bookmark, else a heartbeat, when quiet for long."""
        while not self.watch.closed and not self.expired():
            due = self.spoke + self.settings.heartbeat
            if self.bookmark_due():
                due = min(due, self.bookmarked + BOOKMARK_SECONDS)
            if self.settings.until is not None:
                due = min(due, self.settings.until)
            if await self.watch.wait_past(self.since.at, max(0.0, due - time.monotonic())):
                return
            if self.bookmark_due() and time.monotonic() >= self.bookmarked + BOOKMARK_SECONDS:
                await self.bookmark()
            elif time.monotonic() >= self.spoke + self.settings.heartbeat:
                await self.say(HEARTBEAT)

    def shown_as(self, change: Followed) -> bytes:
        """A change's event: as the worker encoded it once, but where its id must also
        name the changes this follower still skips (`Since`)."""
        moved = self.since.moved(change.position)
        if not moved.skip:
            return change.shown
        return change_event(change.body, position_token(moved, self.follow.codec))

    def expired(self) -> bool:
        """Whether the token the stream was opened with has expired."""
        return self.settings.until is not None and time.monotonic() >= self.settings.until

    def bookmark_due(self) -> bool:
        return self.since.at != self.shown

    async def bookmark(self) -> None:
        token = position_token(self.since, self.follow.codec)
        await self.say(event(b"bookmark", orjson.dumps({"position": token}), token))
        self.shown, self.bookmarked = self.since.at, time.monotonic()

    async def reset(self) -> None:
        await self.say(event(b"reset", orjson.dumps({"detail": PositionGone.detail})))

    async def reconnect(self) -> None:
        token = position_token(self.since, self.follow.codec)
        data = orjson.dumps({"position": token})
        await self.say(event(b"reconnect", data, token, random.randint(*RETRY_MS)))  # noqa: S311

    async def say(self, data: bytes) -> None:
        try:
            with anyio.fail_after(self.settings.send_timeout):
                await self.send({"type": "http.response.body", "body": data, "more_body": True})
        except TimeoutError:
            raise _Stalled from None
        self.spoke = time.monotonic()
