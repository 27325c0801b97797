"""Every path answers HEAD where it has GET, OPTIONS and 405 with all of its methods, and
the collection with or without its trailing slash, with no redirect."""

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import make_hero

HERO_METHODS = "GET, HEAD, PATCH, DELETE, OPTIONS"
COLLECTION_METHODS = "GET, HEAD, POST, OPTIONS"


@pytest.fixture
def hero_url(client: TestClient, session: Session) -> str:
    return f"/heroes/{make_hero(session).id}"


@pytest.mark.parametrize(
    "path", ["/heroes/{id}", "/heroes/", "/heroes", "/heroes/{id}?fields=created_at"]
)
def test_head_answers_gets_headers_without_the_body(
    client: TestClient, hero_url: str, path: str
) -> None:
    url = path.format(id=hero_url.rsplit("/", 1)[1])
    got = client.get(url)

    head = client.head(url)

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    for name in ("content-type", "etag", "last-modified"):
        assert head.headers.get(name) == got.headers.get(name), name


def test_head_of_a_missing_hero_is_404_without_a_body(client: TestClient) -> None:
    head = client.head("/heroes/999999")

    assert (head.status_code, head.content) == (404, b"")


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/docs"])
def test_head_works_on_the_other_get_routes(client: TestClient, path: str) -> None:
    head = client.head(path)

    assert (head.status_code, head.content) == (200, b"")


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/heroes/1", HERO_METHODS),
        ("/heroes/", COLLECTION_METHODS),
        ("/heroes", COLLECTION_METHODS),
        ("/healthz", "GET, HEAD, OPTIONS"),
        ("/static/docs/swagger-ui.css", "GET, HEAD, OPTIONS"),
    ],
)
def test_options_lists_the_methods_the_path_has(
    client: TestClient, path: str, allowed: str
) -> None:
    response = client.options(path)

    assert response.status_code == 204
    assert response.headers["allow"] == allowed
    assert response.content == b""


def test_options_of_a_path_that_does_not_exist_is_404(client: TestClient) -> None:
    assert client.options("/villains/").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/heroes/1", HERO_METHODS),
        ("POST", "/heroes/1", HERO_METHODS),
        ("DELETE", "/heroes/", COLLECTION_METHODS),
        ("PATCH", "/heroes", COLLECTION_METHODS),
        ("POST", "/healthz", "GET, HEAD, OPTIONS"),
        ("PUT", "/static/docs/swagger-ui.css", "GET, HEAD, OPTIONS"),
        ("DELETE", "/static/docs/redoc.standalone.js", "GET, HEAD, OPTIONS"),
    ],
)
def test_405_lists_every_method_of_the_path(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path, json={"name": "x"})

    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {"detail": "Method Not Allowed"}


def test_the_collection_without_its_slash_serves_every_method_in_place(
    client: TestClient,
) -> None:
    created = client.post(
        "/heroes", json={"name": "Deadpond", "secret_name": "Dive Wilson"}, follow_redirects=False
    )
    listed = client.get("/heroes?limit=5", follow_redirects=False)

    assert created.status_code == 200
    assert created.json()["name"] == "Deadpond"
    assert listed.status_code == 200
    assert listed.json() == [created.json()]


def test_a_real_server_answers_head_and_keeps_the_connection(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=5) as http:
        created = http.post("/heroes/", json={"name": "Deadpond", "secret_name": "Dive"})
        url = created.headers["location"]

        head = http.head(url)
        after = http.get(url)

    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["etag"] == created.headers["etag"]
    assert head.headers["content-length"] == str(len(after.content))
    assert after.json() == created.json()
