"""ALLOWED_HOSTS: a Host the setting does not name is 400 in the JSON error shape, so no
foreign host reaches `Location`, `Link` or a redirect; the default allows any (the
tutorial's behaviour)."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import load_settings
from app.main import create_app
from tests.heroes.test_bad_input import assert_clean_4xx

NEW_HERO = {"name": "Hosted", "secret_name": "s"}


@pytest.fixture
def guarded(database_url: str, clean_db: Engine) -> Iterator[TestClient]:
    settings = load_settings(
        database_url=database_url,
        environment="test",
        allowed_hosts=["api.example.com", "*.heroes.example"],
    )
    with TestClient(create_app(settings), base_url="http://api.example.com") as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/heroes/"),
        ("GET", "/heroes/?limit=1"),
        ("GET", "/healthz/"),
        ("GET", "/heroes/1"),
    ],
)
def test_a_host_not_allowed_is_400_in_json_and_reflected_nowhere(
    guarded: TestClient, method: str, path: str
) -> None:
    guarded.post("/heroes/", json=NEW_HERO)

    response = guarded.request(
        method, path, json=NEW_HERO, headers={"Host": "evil.example"}, follow_redirects=False
    )

    assert_clean_4xx(response, 400)
    assert response.json() == {"detail": "Invalid host header"}
    assert "x-request-id" in response.headers
    assert "evil" not in str(response.headers).lower()


@pytest.mark.parametrize(
    "host", ["api.example.com", "API.example.com:8443", "eu.heroes.example", "a.b.heroes.example"]
)
def test_allowed_hosts_and_their_wildcard_subdomains_are_served(
    guarded: TestClient, host: str
) -> None:
    response = guarded.post("/heroes/", json=NEW_HERO, headers={"Host": host})

    assert response.status_code == 200
    assert response.headers["location"].startswith(f"http://{host}/heroes/")


@pytest.mark.parametrize("host", ["heroes.example", "example.com", "api.example.com.evil", ""])
def test_a_wildcard_names_subdomains_only_and_names_match_whole(
    guarded: TestClient, host: str
) -> None:
    assert guarded.get("/heroes/", headers={"Host": host}).status_code == 400


@pytest.mark.parametrize(
    "host",
    [
        "evil.com/.heroes.example",
        "evil.com@a.heroes.example",
        "api.example.com:80@evil.com",
        "api.example.com:http",
        "api.example.com evil.com",
        "a.heroes.example\\@evil.com",
    ],
)
def test_a_host_header_that_is_no_host_name_never_passes_for_an_allowed_one(
    guarded: TestClient, host: str
) -> None:
    """Whatever rides behind an allowed name (a user, a path, a second host) is refused,
    not handed on to the URLs the service writes."""
    assert guarded.post("/heroes/", json=NEW_HERO, headers={"Host": host}).status_code == 400


def test_by_default_any_host_is_served(client: TestClient) -> None:
    response = client.post("/heroes/", json=NEW_HERO, headers={"Host": "anything.example"})

    assert response.status_code == 200
    assert response.headers["location"].startswith("http://anything.example/")
