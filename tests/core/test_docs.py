"""/docs and /redoc are served by the service alone, and openapi.json is worth reading.

These tests need no database: the docs pages, their assets and the OpenAPI document are
the same whatever the backend.
"""

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib.metadata import metadata
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import load_settings
from app.http.docs import ASSETS
from app.main import create_app

DOCS_PAGES = ("/docs", "/redoc")
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}
OPERATIONS = {
    ("post", "/heroes/"): "create_hero",
    ("get", "/heroes/"): "list_heroes",
    ("get", "/heroes/{hero_id}"): "read_hero",
    ("patch", "/heroes/{hero_id}"): "update_hero",
    ("delete", "/heroes/{hero_id}"): "delete_hero",
}
OPERATIONS_ROUTES = {
    ("get", "/healthz"): "healthz",
    ("get", "/readyz"): "readyz",
    ("get", "/metrics"): "read_metrics",
}
ERRORS = {
    "create_hero": {"400", "408", "413", "422", "503"},
    "list_heroes": {"422", "503"},
    "read_hero": {"404", "422", "503"},
    "update_hero": {"400", "404", "408", "412", "413", "422", "428", "503"},
    "delete_hero": {"404", "412", "422", "428", "503"},
}


class _References(HTMLParser):
    """Every URL a page loads: script sources, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name == "src" or (name == "href" and tag == "link")):
                self.urls.append(value)


def referenced_urls(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.urls


@pytest.fixture(scope="module")
def docs_client() -> TestClient:
    settings = load_settings(database_url="sqlite://", environment="test")
    # No lifespan: nothing here touches the database.
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def openapi(docs_client: TestClient) -> dict[str, Any]:
    response = docs_client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(openapi: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for (method, path), operation_id in OPERATIONS.items():
        yield operation_id, openapi["paths"][path][method]


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_docs_page_is_html_that_loads_assets(docs_client: TestClient, page: str) -> None:
    response = docs_client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = referenced_urls(response.text)
    assert any(url.endswith(".js") for url in urls)
    assert any(url.endswith(".png") for url in urls)


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_every_asset_a_docs_page_loads_is_served_here(docs_client: TestClient, page: str) -> None:
    for url in referenced_urls(docs_client.get(page).text):
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
        response = docs_client.get(url)
        assert response.status_code == 200, url
        suffix = url[url.rfind(".") :]
        content_type = response.headers["content-type"].split(";")[0]
        assert content_type in CONTENT_TYPES[suffix], (url, content_type)
        assert response.content == (ASSETS / url.rsplit("/", 1)[1]).read_bytes()


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_docs_page_names_no_outside_host(docs_client: TestClient, page: str) -> None:
    html = docs_client.get(page).text
    outside = re.findall(r"(?:https?:)?//(?!127\.0\.0\.1[:/])[\w.-]+", html)
    assert outside == []


def test_swagger_ui_page_turns_off_the_online_validator(docs_client: TestClient) -> None:
    assert '"validatorUrl": null' in docs_client.get("/docs").text


def test_docs_assets_are_the_pinned_package_versions(docs_client: TestClient) -> None:
    assert metadata("fastapi-offline")["Version"] == "1.7.7"
    script = docs_client.get("/static/docs/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in script
    assert "Redoc" in docs_client.get("/static/docs/redoc.standalone.js").text


def test_a_missing_asset_is_404(docs_client: TestClient) -> None:
    assert docs_client.get("/static/docs/nothing.js").status_code == 404


def test_openapi_info_comes_from_the_package(openapi: dict[str, Any]) -> None:
    package = metadata("heroes")
    assert openapi["info"]["title"] == "Heroes"
    assert openapi["info"]["version"] == package["Version"]
    assert openapi["info"]["description"].startswith(package["Summary"])


def test_openapi_tags_are_described(openapi: dict[str, Any]) -> None:
    tags = {tag["name"]: tag for tag in openapi["tags"]}
    assert tags["heroes"]["description"]
    assert tags["operations"]["description"]
    for _operation_id, operation in operations(openapi):
        assert operation["tags"] == ["heroes"]
    for (method, path), _operation_id in OPERATIONS_ROUTES.items():
        assert openapi["paths"][path][method]["tags"] == ["operations"]


def test_every_operation_has_a_readable_id_summary_and_description(
    openapi: dict[str, Any],
) -> None:
    described = set()
    for (method, path), operation_id in (OPERATIONS | OPERATIONS_ROUTES).items():
        operation = openapi["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["summary"]
        assert len(operation["description"]) > 20
        described.add(operation_id)
    every = {op["operationId"] for path in openapi["paths"].values() for op in path.values()}
    assert every == described


def property_examples(schema: dict[str, Any]) -> dict[str, Any]:
    return {name: field["examples"][0] for name, field in schema["properties"].items()}


def test_request_bodies_have_examples(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert property_examples(schemas["HeroCreate"]) == {
        "name": "Deadpond",
        "age": 28,
        "secret_name": "Dive Wilson",
    }
    assert schemas["HeroUpdate"]["examples"] == [{"age": 29}]
    ops = dict(operations(openapi))
    for operation_id, model in (("create_hero", "HeroCreate"), ("update_hero", "HeroUpdate")):
        body = ops[operation_id]["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"] == f"#/components/schemas/{model}"


def test_responses_have_examples_with_exactly_the_contract_keys(openapi: dict[str, Any]) -> None:
    public = openapi["components"]["schemas"]["HeroPublic"]
    assert property_examples(public) == {"name": "Deadpond", "age": 28, "id": 1}
    ops = dict(operations(openapi))
    for operation_id in ("create_hero", "read_hero", "update_hero"):
        ok = ops[operation_id]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"]["$ref"] == "#/components/schemas/HeroPublic"
    listed = ops["list_heroes"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed["items"]["$ref"] == "#/components/schemas/HeroPublic"
    deleted = ops["delete_hero"]["responses"]["200"]["content"]["application/json"]
    assert deleted["example"] == {"ok": True}


def test_every_error_response_is_declared_with_schema_and_example(
    openapi: dict[str, Any],
) -> None:
    for operation_id, operation in operations(openapi):
        errors = {status for status in operation["responses"] if int(status) >= 400}
        assert errors == ERRORS[operation_id], operation_id
        for status in errors:
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"]["$ref"].startswith("#/components/schemas/"), status
            assert "detail" in content["example"], (operation_id, status)


# For each operation, a request its 422 example describes.
INVALID_REQUESTS = {
    "create_hero": ("POST", "/heroes/", {"name": "", "secret_name": "x"}),
    "list_heroes": ("GET", "/heroes/?sort=power", None),
    "read_hero": ("GET", "/heroes/abc", None),
    "update_hero": ("PATCH", "/heroes/abc", {"name": None}),
    "delete_hero": ("DELETE", "/heroes/abc", None),
}


@pytest.mark.parametrize("operation_id", sorted(INVALID_REQUESTS))
def test_each_422_example_is_what_the_service_answers(
    openapi: dict[str, Any], docs_client: TestClient, operation_id: str
) -> None:
    declared = dict(operations(openapi))[operation_id]["responses"]["422"]
    content = declared["content"]["application/json"]
    assert content["schema"]["$ref"] == "#/components/schemas/InvalidBody"
    method, url, body = INVALID_REQUESTS[operation_id]
    answered = docs_client.request(method, url, json=body)  # no database: fails before it
    assert answered.status_code == 422
    assert answered.json() == content["example"]


def test_the_404_example_is_what_the_service_answers(openapi: dict[str, Any]) -> None:
    for operation_id in ("read_hero", "update_hero", "delete_hero"):
        declared = dict(operations(openapi))[operation_id]["responses"]["404"]
        assert declared["content"]["application/json"]["example"] == {"detail": "Hero not found"}


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_docs_pages_work_behind_a_path_prefix(page: str) -> None:
    """Behind a proxy that serves the service under /api (uvicorn --root-path /api)."""
    app = create_app(load_settings(database_url="sqlite://", environment="test"))
    client = TestClient(app, root_path="/api")
    html = client.get(f"/api{page}").text
    urls = referenced_urls(html)
    assert urls
    for url in urls:
        assert url.startswith("/api/static/docs/")
        assert client.get(url).status_code == 200
    assert "/api/openapi.json" in html
