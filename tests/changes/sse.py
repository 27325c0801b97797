"""Reading Server-Sent Events as a client does, from any iterator of byte chunks (a test
client's or a real connection's), each wait bounded by a deadline."""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

EVENT_STREAM = {"Accept": "text/event-stream"}


@dataclass
class Event:
    """One event; `kind` "comment" for a comment line alone (a heartbeat)."""

    kind: str
    id: str | None = None
    data: str = ""
    retry: int | None = None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class Events:
    """The events of one stream, parsed as they arrive. Every wait ends by `seconds`
    (the stream's heartbeats let the deadline be checked while no event comes)."""

    chunks: Iterator[bytes]
    seconds: float = 10.0
    ended: bool = False
    _buffer: bytes = b""
    seen: list[Event] = field(default_factory=list)

    def next(self) -> Event:
        deadline = time.monotonic() + self.seconds
        while b"\n\n" not in self._buffer:
            if time.monotonic() > deadline:
                raise AssertionError(f"no event within {self.seconds} s; {self.last_seen()}")
            chunk = next(self.chunks, None)
            if chunk is None:
                self.ended = True
                raise AssertionError(f"the stream ended; {self.last_seen()}")
            self._buffer += chunk.replace(b"\r\n", b"\n")
        block, self._buffer = self._buffer.split(b"\n\n", 1)
        parsed = parse(block.decode())
        self.seen.append(parsed)
        return parsed

    def last_seen(self) -> str:
        shown = [(each.kind, each.id, each.data[:80]) for each in self.seen[-5:]]
        return f"{len(self.seen)} events, the last: {shown}"

    def next_of(self, *kinds: str) -> Event:
        """The next event of one of `kinds`, skipping the others (heartbeats, bookmarks)."""
        return self.until(lambda each: each.kind in kinds)

    def until(self, wanted: Callable[[Event], bool], most: int = 10_000) -> Event:
        for _ in range(most):
            found = self.next()
            if wanted(found):
                return found
        raise AssertionError(f"not among {most} events; {self.last_seen()}")

    def changes(self, count: int) -> list[Event]:
        return [self.next_of("change") for _ in range(count)]

    def end(self) -> None:
        """Read on: the stream must end (its connection or response closes) by the deadline."""
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            if next(self.chunks, None) is None:
                self.ended = True
                return
        raise AssertionError(f"the stream did not end within {self.seconds} s")


def parse(block: str) -> Event:
    parsed = Event("message")
    fields = 0
    for line in block.split("\n"):
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        fields += name != ""
        if name == "event":
            parsed.kind = value
        elif name == "id":
            parsed.id = value
        elif name == "data":
            parsed.data = value if not parsed.data else parsed.data + "\n" + value
        elif name == "retry":
            parsed.retry = int(value)
    if fields == 0:
        parsed.kind = "comment"
    return parsed


@contextmanager
def streaming(
    base_url: str, headers: dict[str, str] | None = None, seconds: float = 10.0, **params: Any
) -> Iterator[Events]:
    """The feed's events from a real server (each read bounded by `seconds`)."""
    timeout = httpx.Timeout(seconds, connect=5.0)
    with httpx.stream(
        "GET",
        f"{base_url}/changes",
        params=params,
        headers=EVENT_STREAM | (headers or {}),
        timeout=timeout,
    ) as response:
        assert response.status_code == 200, response.read()
        yield Events(_until_cut(response.iter_raw()), seconds)


def _until_cut(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """A stream's chunks, ending (not failing) when the server goes away mid-stream."""
    try:
        yield from chunks
    except (httpx.RemoteProtocolError, httpx.ReadError):
        return
