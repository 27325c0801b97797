"""Clients that connect and then stall, against `heroes serve` on 127.0.0.1: a connection
that sends nothing, half a request head, or part of a declared body is closed after
CLIENT_HEADER_TIMEOUT or CLIENT_BODY_TIMEOUT, and while many stall, others are served."""

import json
import re
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.ops.processes import SHIPPED_NGINX, Service, running_nginx, running_service

TIMEOUT = 1.0  # both settings, in seconds
MARGIN = 2.0  # what a closing may take beyond its timeout on a busy machine
STALLED = 200  # connections held open at once: bounded, well under the default 1,024 files
HALF_HEAD = b"GET /heroes/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: "
HALF_BODY = (
    b"POST /heroes/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n"
    b'{"name": "Slow'
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    directory = tmp_path_factory.mktemp("stalled")
    timeouts = {"CLIENT_HEADER_TIMEOUT": str(TIMEOUT), "CLIENT_BODY_TIMEOUT": str(TIMEOUT)}
    with running_service(f"sqlite:///{directory / 'heroes.db'}", directory, **timeouts) as service:
        yield service


def connect(service: Service | str, sending: bytes = b"") -> socket.socket:
    base_url = service if isinstance(service, str) else service.base_url
    host, port = base_url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=5)
    if sending:
        connection.sendall(sending)
    return connection


def read_until_closed(connection: socket.socket, seconds: float) -> tuple[bytes, float]:
    """Everything the service sends until it closes the connection, and when it closed it
    (seconds from now); fails if it is still open after `seconds`."""
    started = time.monotonic()
    received = b""
    connection.settimeout(seconds)
    with connection:
        while True:
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                pytest.fail(f"still open after {seconds} s; received {received!r}")
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received, time.monotonic() - started


def read_response(connection: socket.socket) -> bytes:
    """One whole answer with a Content-Length, read from a connection that stays open."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    _, headers, body = response_parts(received)
    while len(body) < int(headers["content-length"]):
        body += connection.recv(65536)
    return received.partition(b"\r\n\r\n")[0] + b"\r\n\r\n" + body


def response_parts(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def test_a_connection_that_sends_nothing_is_closed(service: Service) -> None:
    received, elapsed = read_until_closed(connect(service), TIMEOUT + MARGIN)

    assert received == b""  # nothing was asked: nothing to answer
    assert elapsed >= TIMEOUT * 0.9


def test_half_a_request_head_is_answered_408_and_closed(service: Service) -> None:
    received, elapsed = read_until_closed(connect(service, HALF_HEAD), TIMEOUT + MARGIN)

    status, headers, body = response_parts(received)
    assert status == 408
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    assert set(json.loads(body)) == {"detail"}
    assert elapsed >= TIMEOUT * 0.9


def test_a_head_sent_a_byte_at_a_time_is_closed_when_the_head_is_late(
    service: Service,
) -> None:
    connection = connect(service)
    started = time.monotonic()
    with pytest.raises((BrokenPipeError, ConnectionResetError)):  # noqa: PT012
        for byte in HALF_HEAD * 10:
            connection.sendall(bytes([byte]))
            time.sleep(TIMEOUT / 4)
            assert time.monotonic() - started < TIMEOUT + MARGIN, "still open"
    connection.close()


def test_a_stalled_body_is_answered_408_in_json_and_closed(service: Service) -> None:
    received, elapsed = read_until_closed(connect(service, HALF_BODY), TIMEOUT + MARGIN)

    status, headers, body = response_parts(received)
    assert status == 408
    assert headers["connection"] == "close"
    assert json.loads(body) == {"detail": "Request Timeout: the request stopped arriving"}
    assert "x-request-id" in headers  # answered by the app: logged and counted like any error
    assert elapsed >= TIMEOUT * 0.9
    stored = httpx.get(f"{service.base_url}/heroes/", params={"name": "Slow"}, timeout=5)
    assert stored.json() == []


def test_a_body_sent_in_parts_within_the_deadline_is_served(service: Service) -> None:
    body = json.dumps({"name": "Steady", "secret_name": "s"}).encode()
    head = b"POST /heroes/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    connection = connect(service, head + b"Content-Length: %d\r\n\r\n" % len(body))
    for start in range(0, len(body), 10):  # five parts, the whole within the deadline
        time.sleep(TIMEOUT * 0.1)
        connection.sendall(body[start : start + 10])
    connection.settimeout(5)
    with connection:
        status, _, answer = response_parts(read_response(connection))

    assert status == 200
    assert json.loads(answer)["name"] == "Steady"


def test_a_body_that_trickles_in_past_the_deadline_is_408_and_closed(
    service: Service,
) -> None:
    """Each part in time, the whole too late: one byte every few seconds must not keep a
    connection open for ever."""
    head = b"POST /heroes/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    connection = connect(service, head + b"Content-Length: 1000\r\n\r\n[")
    started = time.monotonic()
    received = b""
    connection.settimeout(TIMEOUT * 0.4)
    with connection:
        while time.monotonic() - started < TIMEOUT + MARGIN:
            try:
                connection.sendall(b" ")
                chunk = connection.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            received += chunk

    assert response_parts(received)[0] == 408
    assert TIMEOUT * 0.9 <= time.monotonic() - started < TIMEOUT + MARGIN


def test_half_a_head_after_a_kept_alive_request_is_closed(service: Service) -> None:
    connection = connect(service, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    first = read_response(connection)
    connection.sendall(HALF_HEAD)  # the next request starts and stalls

    received, elapsed = read_until_closed(connection, TIMEOUT + MARGIN)

    assert response_parts(first)[0] == 200
    assert response_parts(received)[0] == 408
    assert elapsed >= TIMEOUT * 0.9


def test_a_body_trickling_in_after_its_answer_is_closed(service: Service) -> None:
    # /healthz answers at once without reading the body it was declared; the rest of the
    # body then arrives a byte at a time, which used to cancel the keep-alive timer forever.
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nx"
    connection = connect(service, head)
    assert response_parts(read_response(connection))[0] == 200
    started = time.monotonic()
    with pytest.raises((BrokenPipeError, ConnectionResetError)):  # noqa: PT012
        while True:
            connection.sendall(b"x")
            time.sleep(TIMEOUT / 4)
            assert time.monotonic() - started < TIMEOUT + MARGIN, "still open"
    connection.close()


def test_requests_are_served_while_many_connections_stall(service: Service) -> None:
    stalls = [b"", HALF_HEAD, HALF_BODY]
    with ExitStack() as stack:
        stalled = [
            stack.enter_context(connect(service, stalls[number % len(stalls)]))
            for number in range(STALLED)
        ]
        started = time.monotonic()
        answered = httpx.get(f"{service.base_url}/heroes/", timeout=5)
        served_in = time.monotonic() - started
        closed_in = [read_until_closed(each, TIMEOUT + MARGIN)[1] for each in stalled]

    assert answered.status_code == 200
    assert served_in < TIMEOUT  # served beside them, not after they were closed
    assert max(closed_in) < TIMEOUT + MARGIN


def nginx_seconds(directive: str) -> float:
    found = re.findall(rf"^\s*{directive} (\d+)s;", SHIPPED_NGINX.read_text(), re.MULTILINE)
    assert len(found) == 1, f"deploy/nginx.conf sets no {directive}"
    return float(found[0])


def test_the_shipped_nginx_drops_clients_that_stall(service: Service, tmp_path: Path) -> None:
    header_timeout = nginx_seconds("client_header_timeout")
    body_timeout = nginx_seconds("client_body_timeout")
    assert max(header_timeout, body_timeout, nginx_seconds("send_timeout")) <= 30
    upstream = service.base_url.removeprefix("http://")
    with running_nginx([upstream], tmp_path) as proxy:
        half_head, half_body = connect(proxy, HALF_HEAD), connect(proxy, HALF_BODY)
        answered = httpx.get(f"{proxy}/heroes/", timeout=5)
        _, head_closed_in = read_until_closed(half_head, header_timeout + MARGIN)
        body_answer, body_closed_in = read_until_closed(half_body, body_timeout + MARGIN)

    assert answered.status_code == 200
    assert header_timeout * 0.9 <= head_closed_in
    assert body_timeout * 0.9 <= body_closed_in + head_closed_in
    # nginx waited for the body itself: the service never saw the request.
    assert b"Request Timeout: the request stopped arriving" not in body_answer
