"""A stream's own bound on a client that reads nothing, under any server: each send may
wait CLIENT_SEND_TIMEOUT seconds, then the stream ends (`heroes serve` drops such a
connection itself first: tests/changes/test_stream_server.py)."""

import asyncio
import logging
from typing import cast

import pytest
from starlette.types import Message

from app.changes.stream import ChangeStream, Follow, StreamSettings
from app.db import Database
from app.kit.changes.feed import Filters, Since
from app.kit.changes.watch import Batch, ChangeWatch
from app.kit.listing.cursors import codec

SEND_TIMEOUT = 0.2


def test_a_stream_whose_client_reads_nothing_ends_after_the_send_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            await asyncio.Event().wait()  # the client's buffers are full, for ever

    async def receive() -> Message:
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def follow() -> float:
        watch = ChangeWatch(cast(Database, None), poll_seconds=60)  # never read here
        start = Follow(watch, Since(7), Batch([], 7), Filters(), 100, codec(None))
        stream = ChangeStream(start, StreamSettings(heartbeat=60, send_timeout=SEND_TIMEOUT))
        began = asyncio.get_running_loop().time()
        async with asyncio.timeout(5):
            await stream({"type": "http", "method": "GET"}, receive, send)
        return asyncio.get_running_loop().time() - began

    with caplog.at_level(logging.INFO, logger="app.changes"):
        seconds = asyncio.run(follow())

    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    assert sent[-1]["more_body"] is True  # unfinished: the server closes the connection
    assert seconds >= SEND_TIMEOUT
    assert "read nothing for 0.2 s" in caplog.text
