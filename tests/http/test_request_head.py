"""The request head has limits: a header line over MAX_HEADER_SIZE or a head over
MAX_REQUEST_HEAD_SIZE is 431, a request target over MAX_HEADER_SIZE 414, each in the JSON
error shape with the request id; and `heroes serve` refuses a huge head while it arrives,
before buffering it (issue "Hardening", 2026-12-02)."""

import socket
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from app import cli
from app.config import load_settings
from app.http.server import HeadLimitedHttpToolsProtocol
from tests.heroes.test_bad_input import assert_clean_4xx
from tests.ops.processes import running_service

HEAD_TOO_LARGE = {"detail": "Request Header Fields Too Large"}


def test_a_header_line_over_the_limit_is_431_in_json_with_the_request_id(
    client: TestClient,
) -> None:
    response = client.get("/heroes/", headers={"X-Padding": "x" * 8 * 1024})

    assert_clean_4xx(response, 431)
    assert response.json() == HEAD_TOO_LARGE
    assert "x-request-id" in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_header_line_at_the_limit_passes(client: TestClient) -> None:
    value = "x" * (8 * 1024 - len("x-padding") - 4)

    assert client.get("/heroes/", headers={"X-Padding": value}).status_code == 200


def test_many_small_headers_over_the_total_are_431(client: TestClient) -> None:
    headers = [(f"x-padding-{number}", "x" * 1000) for number in range(40)]

    response = client.get("/heroes/", headers=headers)

    assert_clean_4xx(response, 431)


def test_a_request_target_over_the_line_limit_is_414(client: TestClient) -> None:
    response = client.get("/heroes/?name=" + "x" * 9000)

    assert_clean_4xx(response, 414)


@pytest.mark.parametrize("header", ["If-None-Match", "If-Match"])
def test_an_entity_tag_list_over_1024_characters_is_422(client: TestClient, header: str) -> None:
    hero_id = client.post("/heroes/", json={"name": "Tagged", "secret_name": "s"}).json()["id"]
    tags = ", ".join(f'"{hero_id}.{version}"' for version in range(200))

    responses = [client.patch(f"/heroes/{hero_id}", json={"age": 1}, headers={header: tags})]
    if header == "If-None-Match":  # GET reads no If-Match
        responses.append(client.get(f"/heroes/{hero_id}", headers={header: tags}))

    for response in responses:
        assert_clean_4xx(response, 422)
        assert response.json()["detail"][0]["loc"] == ["header", header.lower()]


def test_an_overlong_request_id_is_replaced_not_echoed(client: TestClient) -> None:
    response = client.get("/heroes/", headers={"X-Request-ID": "a" * 129})

    assert response.headers["x-request-id"] != "a" * 129


# --- heroes serve ------------------------------------------------------------------------


def test_serve_gives_both_http_parsers_the_head_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    given: dict[str, Any] = {}
    monkeypatch.setattr(cli, "_prepare_schema", lambda _settings: None)
    monkeypatch.setattr(uvicorn, "run", lambda *_args, **options: given.update(options))
    monkeypatch.setattr(cli, "load_settings", lambda: load_settings(max_request_head_size=20_000))

    cli.serve("127.0.0.1", 0, 1, reload=False)

    assert given["h11_max_incomplete_event_size"] == 20_000
    assert issubclass(given["http"].func, HeadLimitedHttpToolsProtocol)


def send_huge_header(base_url: str, megabytes: int) -> tuple[bytes, int]:
    """Send a head with one header of `megabytes` MB, 64 KB at a time, until the server
    answers or closes; what it answered, and how many bytes were sent by then."""
    host, port = base_url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"GET /heroes/ HTTP/1.1\r\nHost: localhost\r\nX-Huge: ")
        chunk = b"x" * 64 * 1024
        deadline = time.monotonic() + 20
        try:
            while sent < megabytes * 1024 * 1024 and time.monotonic() < deadline:
                connection.sendall(chunk)
                sent += len(chunk)
            connection.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return connection.recv(65536), sent
        except ConnectionResetError:
            return b"", sent


def test_serve_refuses_a_huge_header_before_reading_it_whole(tmp_path: Path) -> None:
    with running_service(f"sqlite:///{tmp_path / 'heroes.db'}", tmp_path) as service:
        answer, sent = send_huge_header(service.base_url, megabytes=100)
        assert httpx.get(f"{service.base_url}/heroes/").status_code == 200

    assert sent < 100 * 1024 * 1024, "the whole 100 MB was accepted"
    if answer:  # the answer may be lost to the reset of a connection still sending
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 431 ")
        assert b"x-request-id: " in head
        assert body == b'{"detail":"Request Header Fields Too Large"}'


MALFORMED = {
    "a NUL in a header value": b"GET /heroes/ HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\x00b\r\n\r\n",
    "a DEL in a header value": b"GET /heroes/ HTTP/1.1\r\nHost: x\r\nX-Thing: a\x7f\r\n\r\n",
    "a negative Content-Length": (
        b"POST /heroes/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
    ),
    "Content-Length beside chunked": (
        b"POST /heroes/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
}


def test_serve_answers_what_its_parser_refuses_in_json_with_a_request_id(
    tmp_path: Path,
) -> None:
    answers = {}
    with running_service(f"sqlite:///{tmp_path / 'heroes.db'}", tmp_path) as service:
        host, port = service.base_url.removeprefix("http://").split(":")
        for case, request in MALFORMED.items():
            with socket.create_connection((host, int(port)), timeout=10) as connection:
                connection.sendall(request)
                answers[case] = connection.recv(65536)

    for case, answer in answers.items():
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 "), case
        assert b"x-request-id: " in head, case
        assert b"x-content-type-options: nosniff" in head, case
        assert b"content-type: application/json" in head, case
        assert body == b'{"detail":"Bad Request: not a valid HTTP/1.1 request"}', case
