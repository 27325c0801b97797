"""Event streams against a real `heroes serve`, on every backend: a client that stops
reading is let go, many idle streams each get a change, and a stopping worker tells its
streams to reconnect."""

import asyncio
import errno
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import Engine

from tests.changes.records import record_changes
from tests.changes.sse import streaming
from tests.ops.processes import Service, running_service, start_service, stop_service
from tests.service_process import HOST

SEND_TIMEOUT = 1.0
BIG_CHANGES = 2000  # 8 MB of events
IDLE_STREAMS = 200
REQUEST = b"GET /changes HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"


@pytest.fixture
def service(database_url: str, clean_db: Engine, tmp_path: Path) -> Iterator[Service]:
    settings = {"CHANGES_HEARTBEAT_SECONDS": "0.2", "CLIENT_SEND_TIMEOUT": str(SEND_TIMEOUT)}
    with running_service(database_url, tmp_path, workers=1, **settings) as started:
        yield started


class Follower(threading.Thread):
    """A follower that reads all the time, counting the changes it is sent."""

    def __init__(self, base_url: str, wanted: int) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.changes = 0
        self.wanted = wanted
        self.ready = threading.Event()

    def run(self) -> None:
        with streaming(self.base_url, seconds=30) as events:
            events.next_of("bookmark")
            self.ready.set()
            while self.changes < self.wanted:
                events.next_of("change")
                self.changes += 1


def test_a_client_that_stops_reading_is_let_go_and_holds_no_one_back(
    service: Service, clean_db: Engine
) -> None:
    stalled = _stalled_stream(service.port)
    healthy = Follower(service.base_url, wanted=BIG_CHANGES + 1)
    healthy.start()
    assert healthy.ready.wait(10)

    # More than the stalled client's socket, the server's (up to 4 MB) and the transport's
    # buffers hold: the stream has to wait for the client, which never reads.
    record_changes(clean_db, BIG_CHANGES, name_length=4096)
    woken = httpx.post(f"{service.base_url}/heroes/", json={"name": "Wake", "secret_name": "s"})
    dropped = _reset_within(stalled, SEND_TIMEOUT + 10)
    healthy.join(timeout=30)

    assert woken.status_code == 200
    assert dropped, "the stalled client is still connected"
    assert healthy.changes == BIG_CHANGES + 1
    assert not [line for line in service.logs() if line["level"] == "ERROR"]


def test_idle_streams_each_get_the_next_change(service: Service) -> None:
    async def follow_idly() -> list[bytes]:
        streams = [await _open(service.port) for _ in range(IDLE_STREAMS)]
        await asyncio.sleep(1)  # idle: heartbeats only
        created = await asyncio.to_thread(
            httpx.post, f"{service.base_url}/heroes/", json={"name": "All", "secret_name": "s"}
        )
        assert created.status_code == 200
        got = await asyncio.gather(
            *(_read_until(reader, b"event: change") for reader, _ in streams)
        )
        for _, writer in streams:
            writer.close()
        return got

    got = asyncio.run(follow_idly())

    assert len(got) == IDLE_STREAMS
    assert all(b'"name":"All"' in each for each in got)


def test_a_stopping_worker_tells_its_streams_to_reconnect_and_exits_at_once(
    database_url: str, clean_db: Engine, tmp_path: Path
) -> None:
    settings = {"CHANGES_HEARTBEAT_SECONDS": "0.2", "GRACEFUL_TIMEOUT": "30"}
    # Two workers under uvicorn's supervisor, as deployed (one worker alone re-raises the
    # signal after its graceful stop, and exits by it).
    service = start_service(database_url, tmp_path, workers=2, **settings)
    try:
        with streaming(service.base_url) as events:
            start = events.next_of("bookmark")
            stopping = time.monotonic()
            service.process.send_signal(signal.SIGTERM)  # as a deployment stops it
            last = events.next_of("reconnect")
            events.end()
        code = service.process.wait(timeout=20)
        seconds = time.monotonic() - stopping
    finally:
        stop_service(service)

    assert last.id == start.id  # where to resume: nothing came in between
    assert last.retry is not None
    assert 1000 <= last.retry <= 3000
    assert code == 0
    assert seconds < 10  # not GRACEFUL_TIMEOUT: the stream did not hold the worker


def _stalled_stream(port: int) -> socket.socket:
    """A stream whose client reads its start, then nothing; a small receive buffer."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.settimeout(10)
    client.connect((HOST, port))
    client.sendall(REQUEST)
    received = b""
    while b"event: bookmark" not in received:
        received += client.recv(4096)
    return client


def _reset(client: socket.socket) -> bool:
    """Whether the server dropped the connection (a reset waits in SO_ERROR; reading it
    would take what is buffered first)."""
    return client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) in {errno.ECONNRESET, errno.EPIPE}


def _reset_within(client: socket.socket, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _reset(client):
            return True
        time.sleep(0.1)
    return False


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(REQUEST)
    await _read_until(reader, b"event: bookmark")
    return reader, writer


async def _read_until(reader: asyncio.StreamReader, wanted: bytes) -> bytes:
    received = b""
    async with asyncio.timeout(15):
        while wanted not in received:
            chunk = await reader.read(65536)
            assert chunk, f"the stream ended before {wanted!r}: {received[-300:]!r}"
            received += chunk
    return received
