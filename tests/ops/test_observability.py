"""Request ids, JSON logs, metrics and security headers, on every backend."""

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.http.security import CONTENT_SECURITY_POLICY
from tests.ops.conftest import JsonLines

HERO = {"name": "Deadpond", "secret_name": "Dive Wilson"}


def sample(client: TestClient, name: str, **labels: str) -> float:
    """The value of one sample of /metrics, 0 when it is absent."""
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for each in family.samples:
            if each.name == name and all(each.labels.get(k) == v for k, v in labels.items()):
                return float(each.value)
    return 0.0


def test_healthz_answers_without_the_database(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_after_a_database_round_trip(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.mark.parametrize("given", ["abc-123", "A.b_c:d-E", "x" * 128])
def test_a_well_formed_request_id_is_echoed(client: TestClient, given: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": given})

    assert response.headers["x-request-id"] == given


@pytest.mark.parametrize("given", ["", "x" * 129, "a b", "a\tb", "<script>", "é", 'a"b'])
def test_a_malformed_request_id_is_replaced(client: TestClient, given: str) -> None:
    response = client.get("/healthz", headers={b"X-Request-ID": given.encode("utf-8")})

    made = response.headers["x-request-id"]
    assert made != given
    assert len(made) == 32
    assert all(char in "0123456789abcdef" for char in made)


def test_each_request_gets_its_own_id(client: TestClient) -> None:
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}

    assert len(ids) == 5


def test_one_json_access_line_per_request_with_route_template(
    client: TestClient, json_logs: JsonLines
) -> None:
    hero_id = client.post("/heroes/", json=HERO).json()["id"]

    client.get(f"/heroes/{hero_id}", headers={"X-Request-ID": "read-1"})

    [line] = json_logs.of("read-1")
    assert line["logger"] == "app.access"
    assert line["method"] == "GET"
    assert line["route"] == "/heroes/{hero_id}"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["time"].endswith("Z")
    assert isinstance(line["pid"], int)


def test_an_error_adds_one_error_line_with_the_same_id(
    client: TestClient, json_logs: JsonLines
) -> None:
    client.get("/heroes/999999", headers={"X-Request-ID": "missing-1"})

    access, error = json_logs.of("missing-1")
    assert (access["logger"], access["status"]) == ("app.access", 404)
    assert (error["logger"], error["kind"], error["status"]) == ("app.errors", "HeroNotFound", 404)


def test_logs_carry_no_bodies_or_secrets(client: TestClient, json_logs: JsonLines) -> None:
    secret = "Very Secret Identity 4711"
    client.post("/heroes/", json={"name": "Rusty-Man", "secret_name": secret})
    client.post("/heroes/", json={"name": 5, "secret_name": secret})  # 422

    logged = repr(json_logs.lines)
    assert secret not in logged
    assert "Rusty-Man" not in logged
    assert len(json_logs.lines) == 3  # two access lines and one error line


def test_metrics_count_requests_by_route_template_not_path(client: TestClient) -> None:
    labels = {"method": "GET", "route": "/heroes/{hero_id}", "status": "404"}
    before = sample(client, "heroes_http_requests_total", **labels)

    for hero_id in (1001, 1002, 1003):
        client.get(f"/heroes/{hero_id}")

    assert sample(client, "heroes_http_requests_total", **labels) == before + 3
    assert "/heroes/1001" not in client.get("/metrics").text


def test_metrics_have_latency_in_flight_pool_and_errors(client: TestClient) -> None:
    errors_before = sample(client, "heroes_errors_total", kind="HeroNotFound")
    client.get("/heroes/424242")

    text = client.get("/metrics").text
    assert 'heroes_http_request_duration_seconds_bucket{le="0.005",method="GET"' in text
    # The scrape itself is the one request in flight.
    assert sample(client, "heroes_http_requests_in_flight") == 1
    assert sample(client, "heroes_db_pool_connections_in_use") == 0
    assert sample(client, "heroes_db_pool_waiting") == 0
    assert sample(client, "heroes_errors_total", kind="HeroNotFound") == errors_before + 1


def test_unknown_paths_and_methods_share_one_label(client: TestClient) -> None:
    for path in ("/nope-1", "/nope-2"):
        client.get(path)
    client.request("BREW", "/heroes/")

    text = client.get("/metrics").text
    assert "/nope-1" not in text
    assert 'route="unmatched"' in text
    assert "BREW" not in text
    assert 'method="other"' in text


def test_security_headers_on_api_responses(client: TestClient) -> None:
    response = client.get("/heroes/")

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'self'" in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_keep_their_inline_script(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert "<script" in response.text
    assert "content-security-policy" not in response.headers
    assert response.headers["x-frame-options"] == "DENY"


def test_cors_is_off_by_default(client: TestClient) -> None:
    response = client.get("/heroes/", headers={"Origin": "https://elsewhere.example"})

    assert "access-control-allow-origin" not in response.headers


def test_the_hero_body_is_unchanged(client: TestClient) -> None:
    response = client.post("/heroes/", json=HERO | {"id": 77})

    assert set(response.json()) == {"id", "name", "age"}
