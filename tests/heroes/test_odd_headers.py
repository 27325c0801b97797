"""No header value, however odd, makes the service answer 5xx, and every answer carries
the request id, a 500 included (issue "Hardening", 2026-12-02).

The fuzz is a fixed corpus, so it is bounded and the same on every run: each header the
service reads, with each odd value, on each route, on every backend.
"""

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import load_settings
from app.main import create_app
from tests.heroes.test_bad_input import assert_clean_4xx

SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "referrer-policy")

# Every header the service reads (with the rate limit's client header and CORS turned on).
HEADERS = (
    "If-Match",
    "If-None-Match",
    "If-Modified-Since",
    "If-Unmodified-Since",
    "Prefer",
    "X-Request-ID",
    "Content-Type",
    "Content-Length",
    "Origin",
    "X-Forwarded-For",
)
ODD_VALUES = (
    "",
    " ",
    "*",
    ",,,",
    '"',
    'W/"',
    'W/"x", *',
    "\xff\xfe",
    "\xb2",  # a digit to str.isdigit, not to int
    "é" * 300,
    "9" * 5000,  # more digits than int() reads
    "0" * 5000 + "1",
    "-1",
    "1e3",
    "Mon, 01 Jan 99999 00:00:00 GMT",
    "Mon, 99999999999999999999 Jan 2026 00:00:00 GMT",
    "Mon, 01 Jan 2026 99999999999999999999:00:00 GMT",
    "Mon, 01 Jan 2026 00:00:00 +9999",
    "Sat, 01 Jan 0001 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "count=exact;" * 200,
    'count="exact',
    "application/json; charset=utf-16",
    "multipart/form-data; boundary=",
    "null",
    "http://[::1",
    "x" * 7000,
)


@pytest.fixture
def fuzz_client(database_url: str, clean_db: Engine) -> Iterator[TestClient]:
    """The service on this backend with every header-reading layer on."""
    settings = load_settings(
        database_url=database_url,
        environment="test",
        rate_limit_per_second=1_000_000,
        rate_limit_burst=1_000_000,
        rate_limit_client_header="X-Forwarded-For",
        cors_allow_origins=["https://app.example"],
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def requests_for(hero_id: int) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("GET", f"/heroes/{hero_id}", None),
        ("GET", "/heroes/?limit=2", None),
        ("POST", "/heroes/", {"name": "Odd", "secret_name": "x"}),
        ("PATCH", f"/heroes/{hero_id}", {"age": 1}),
        ("DELETE", f"/heroes/{hero_id + 1000}", None),
        ("OPTIONS", f"/heroes/{hero_id}", None),
    ]


@pytest.mark.parametrize("header", HEADERS)
def test_no_odd_header_value_gets_a_5xx(fuzz_client: TestClient, header: str) -> None:
    hero_id = fuzz_client.post("/heroes/", json={"name": "Base", "secret_name": "s"}).json()["id"]
    for value, (method, url, body) in itertools.product(ODD_VALUES, requests_for(hero_id)):
        headers = {header.encode(): value.encode("latin-1")}
        response = fuzz_client.request(method, url, headers=headers, json=body)

        where = f"{method} {url} {header}: {value[:40]!r}"
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text}"
        assert "x-request-id" in response.headers, where
        if response.status_code >= 400:
            assert_clean_4xx(response)


# --- an error nothing handled ---------------------------------------------------------------


def failing_app(tmp_path: Path) -> FastAPI:
    app = create_app(
        load_settings(database_url=f"sqlite:///{tmp_path / 'h.db'}", environment="test")
    )

    async def fail() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/fail", fail)
    return app


def test_an_unhandled_error_is_a_json_500_with_the_request_id_and_security_headers(
    tmp_path: Path,
) -> None:
    with TestClient(failing_app(tmp_path), raise_server_exceptions=False) as client:
        response = client.get("/fail", headers={"X-Request-ID": "trace-500"})

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert response.headers["x-request-id"] == "trace-500"
    for name in SECURITY_HEADERS:
        assert name in response.headers, name
    assert "a bug" not in response.text
