"""/docs and /redoc are served by the service alone, and openapi.json is worth reading.

Most of these tests need no database and no browser: the docs pages, their assets and the
OpenAPI document are the same whatever the backend. Those marked `browser` are a new user on
a machine with no internet who opens /docs and tries every route: real headless Chromium
(Debian's `chromium`, installed by .ci/browser) driven by Playwright, against the service
running under uvicorn on 127.0.0.1. Every request the page makes to any other host is
blocked and recorded, and the test fails if there was one. Screenshots go to
test-artifacts/screenshots/. Run them alone with `pytest -m browser`.
"""

import json
import os
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib.metadata import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Locator, Page, Route, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from app.config import load_settings
from app.http.docs import ASSETS
from app.main import create_app
from tests.conftest import running_server, skip_or_fail
from tests.service_process import REPO_ROOT

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
    ("post", "/teams/"): "create_team",
    ("get", "/teams/"): "list_teams",
    ("get", "/teams/{team_id}"): "read_team",
    ("patch", "/teams/{team_id}"): "update_team",
    ("delete", "/teams/{team_id}"): "delete_team",
    ("get", "/heroes/{hero_id}/history"): "read_hero_history",
    ("post", "/heroes/{hero_id}/restore"): "restore_hero",
    ("get", "/teams/{team_id}/history"): "read_team_history",
    ("post", "/teams/{team_id}/restore"): "restore_team",
    ("post", "/heroes/batch"): "write_heroes",
    ("post", "/teams/batch"): "write_teams",
}
OPERATIONS_ROUTES = {
    ("get", "/healthz"): "healthz",
    ("get", "/readyz"): "readyz",
    ("get", "/metrics"): "read_metrics",
}
FEED_OPERATIONS = {("get", "/changes"): "read_changes"}
USER_OPERATIONS = {
    ("post", "/users/"): "create_user",
    ("get", "/users/me"): "read_me",
    ("patch", "/users/me"): "update_me",
    ("get", "/users/"): "list_users",
    ("patch", "/users/{user_id}"): "update_user",
    ("delete", "/users/{user_id}"): "delete_user",
    ("post", "/auth/token"): "sign_in",
    ("post", "/auth/refresh"): "refresh",
    ("post", "/auth/logout"): "logout",
}
ERRORS = {
    "create_hero": {"400", "401", "408", "409", "413", "422", "503"},
    "list_heroes": {"401", "414", "422", "503"},
    "read_hero": {"401", "404", "422", "503"},
    "update_hero": {"400", "401", "403", "404", "408", "409", "412", "413", "422", "428", "503"},
    "delete_hero": {"401", "403", "404", "412", "422", "428", "503"},
    "create_team": {"400", "401", "408", "409", "413", "422", "503"},
    "list_teams": {"401", "414", "422", "503"},
    "read_team": {"401", "404", "422", "503"},
    "update_team": {"400", "401", "403", "404", "408", "409", "412", "413", "422", "428", "503"},
    "delete_team": {"401", "403", "404", "412", "422", "428", "503"},
    "read_hero_history": {"401", "404", "414", "422", "503"},
    "restore_hero": {"400", "401", "403", "404", "408", "409", "412", "413", "422", "428", "503"},
    "read_team_history": {"401", "404", "414", "422", "503"},
    "restore_team": {"400", "401", "403", "404", "408", "409", "412", "413", "422", "428", "503"},
    "write_heroes": {"400", "401", "403", "408", "409", "412", "413", "422", "428", "503"},
    "write_teams": {"400", "401", "403", "408", "409", "412", "413", "422", "428", "503"},
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


def test_docs_assets_tell_caches_to_revalidate_and_answer_304_when_current(
    docs_client: TestClient,
) -> None:
    first = docs_client.get("/static/docs/swagger-ui.css")
    again = docs_client.get(
        "/static/docs/swagger-ui.css", headers={"If-None-Match": first.headers["etag"]}
    )

    assert first.headers["cache-control"] == "no-cache"
    assert (again.status_code, again.headers["cache-control"]) == (304, "no-cache")


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
    assert tags["teams"]["description"]
    for (_method, path), operation_id in OPERATIONS.items():
        assert openapi["paths"][path][_method]["tags"] == [path.split("/")[1]], operation_id
    for (method, path), _operation_id in OPERATIONS_ROUTES.items():
        assert openapi["paths"][path][method]["tags"] == ["operations"]
    assert tags["changes"]["description"]
    assert openapi["paths"]["/changes"]["get"]["tags"] == ["changes"]


def test_every_operation_has_a_readable_id_summary_and_description(
    openapi: dict[str, Any],
) -> None:
    described = set()
    every_named = OPERATIONS | OPERATIONS_ROUTES | FEED_OPERATIONS | USER_OPERATIONS
    for (method, path), operation_id in every_named.items():
        operation = openapi["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["summary"]
        assert len(operation["description"]) > 20
        described.add(operation_id)
    every = {op["operationId"] for path in openapi["paths"].values() for op in path.values()}
    assert every == described


def test_sign_in_is_an_oauth2_password_flow_and_each_operation_says_what_it_needs(
    openapi: dict[str, Any],
) -> None:
    scheme = openapi["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/token"
    always: list[dict[str, list[str]]] = [{"OAuth2PasswordBearer": []}]
    by_policy: list[dict[str, list[str]]] = [{"OAuth2PasswordBearer": []}, {}]
    for (method, path), operation_id in (OPERATIONS | USER_OPERATIONS).items():
        operation = openapi["paths"][path][method]
        if path.startswith("/auth/"):
            assert "security" not in operation, operation_id
            continue
        by_deployment = path.startswith(("/heroes", "/teams")) or operation_id == "create_user"
        expected = by_policy if by_deployment else always
        assert operation["security"] == expected, operation_id
        assert "401" in operation["responses"], operation_id
    token_form = openapi["paths"]["/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in token_form


def property_examples(schema: dict[str, Any]) -> dict[str, Any]:
    return {name: field["examples"][0] for name, field in schema["properties"].items()}


def test_request_bodies_have_examples(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert property_examples(schemas["HeroCreate"]) == {
        "name": "Deadpond",
        "age": 28,
        "secret_name": "Dive Wilson",
        "team_id": None,  # Swagger's "Try it out" would otherwise send a team id of 0
    }
    assert schemas["HeroUpdate"]["examples"] == [{"age": 29}]
    assert property_examples(schemas["TeamCreate"]) == {
        "name": "Preventers",
        "headquarters": "Sharp Tower",
    }
    assert schemas["TeamUpdate"]["examples"] == [{"headquarters": "Sister Margaret's Bar"}]
    ops = dict(operations(openapi))
    for operation_id, model in (
        ("create_hero", "HeroCreate"),
        ("update_hero", "HeroUpdate"),
        ("create_team", "TeamCreate"),
        ("update_team", "TeamUpdate"),
    ):
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
    "create_team": ("POST", "/teams/", {"name": "", "headquarters": "x"}),
    "list_teams": ("GET", "/teams/?sort=power", None),
    "read_team": ("GET", "/teams/abc", None),
    "update_team": ("PATCH", "/teams/abc", {"name": None}),
    "delete_team": ("DELETE", "/teams/abc", None),
    "read_changes": ("GET", "/changes?since=x", None),
    "read_hero_history": ("GET", "/heroes/1/history?cursor=abc", None),
    "restore_hero": ("POST", "/heroes/abc/restore", {"version": "2"}),
    "read_team_history": ("GET", "/teams/1/history?cursor=abc", None),
    "restore_team": ("POST", "/teams/abc/restore", {"version": "2"}),
    "write_heroes": ("POST", "/heroes/batch", {"items": [{"name": "", "secret_name": "x"}]}),
    "write_teams": ("POST", "/teams/batch", {"items": [{"name": "", "headquarters": "x"}]}),
}


@pytest.mark.parametrize("operation_id", sorted(INVALID_REQUESTS))
def test_each_422_example_is_what_the_service_answers(
    openapi: dict[str, Any], docs_client: TestClient, operation_id: str
) -> None:
    named = {
        name: (method, path) for (method, path), name in (OPERATIONS | FEED_OPERATIONS).items()
    }
    method, path = named[operation_id]
    declared = openapi["paths"][path][method]["responses"]["422"]
    content = declared["content"]["application/json"]
    assert content["schema"]["$ref"] == "#/components/schemas/InvalidBody"
    method, url, body = INVALID_REQUESTS[operation_id]
    answered = docs_client.request(method, url, json=body)  # no database: fails before it
    assert answered.status_code == 422
    assert answered.json() == content["example"]


def test_the_404_example_is_what_the_service_answers(openapi: dict[str, Any]) -> None:
    for operation_id in (
        "read_hero",
        "update_hero",
        "delete_hero",
        "read_hero_history",
        "restore_hero",
    ):
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


# --- in a real browser, offline --------------------------------------------------------------

SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1"}
# ReDoc's sidebar credit ("API docs by Redocly") shows a logo from its makers' CDN and drops
# the image when it fails to load: the only outside request a docs page may make.
DECORATIVE = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
TIMEOUT_MS = 20_000


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if path is None:
        skip_or_fail("no chromium found (install it with `bash .ci/browser`)")
    assert path is not None
    return path


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    """The service on a new SQLite database: these tests are about the docs, not databases."""
    with running_server(f"sqlite:///{tmp_path / 'heroes.db'}") as server:
        yield server.base_url


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    # Past pytest's capture, so that the CI log says where the artefacts are.
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print(f"\nbrowser test screenshots: {SCREENSHOTS}")


@pytest.fixture
def offline_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page that can reach 127.0.0.1 only; the list collects what it tried elsewhere."""
    blocked: list[str] = []
    context = browser.new_context(viewport={"width": 1200, "height": 900})

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_local)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page, blocked
        assert errors == [], f"the page raised JavaScript errors: {errors}"
    finally:
        context.close()


def screenshot(target: Page | Locator, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def operation(page: Page, operation_id: str, tag: str = "heroes") -> Locator:
    """Swagger UI's block for one operation, expanded, with "Try it out" pressed."""
    block = page.locator(f"#operations-{tag}-{operation_id}")
    block.locator(".opblock-summary").first.click()
    block.get_by_role("button", name="Try it out").click()
    return block


def execute(block: Locator, name: str) -> tuple[int, Any]:
    """Press Execute and read the status and JSON body from the response panel."""
    block.get_by_role("button", name="Execute").click()
    live = block.locator(".live-responses-table .response").first
    status = live.locator(".response-col_status").inner_text(timeout=TIMEOUT_MS)
    body = live.locator(".response-col_description .highlight-code pre").first.inner_text()
    block.scroll_into_view_if_needed()
    screenshot(block, name)
    return int(status.strip()), json.loads(body)


def fill_hero_id(block: Locator, hero_id: int) -> None:
    block.locator('tr[data-param-name="hero_id"] input').fill(str(hero_id))


def fill_body(block: Locator, body: dict[str, Any]) -> None:
    block.locator("textarea.body-param__text").fill(json.dumps(body))


def open_docs(page: Page, service: str, blocked: list[str]) -> None:
    page.goto(f"{service}/docs")
    try:
        page.locator("#operations-heroes-create_hero").wait_for()
    except PlaywrightTimeoutError:
        screenshot(page, "docs_failed")
        pytest.fail(f"/docs did not render; requests blocked: {blocked}")
    screenshot(page, "docs")


@pytest.mark.browser
def test_try_it_out_works_for_every_route_offline(
    service: str, offline_page: tuple[Page, list[str]]
) -> None:
    page, blocked = offline_page
    open_docs(page, service, blocked)

    create = operation(page, "create_hero")
    example = create.locator("textarea.body-param__text").input_value()
    assert json.loads(example) == {
        "name": "Deadpond",
        "age": 28,
        "secret_name": "Dive Wilson",
        "team_id": None,  # HeroCreate's example: no team
    }
    fill_body(create, {"name": "Rusty-Man", "age": 48, "secret_name": "Tommy Sharp", "id": 999})
    status, created = execute(create, "create_hero")
    assert status == 200
    assert set(created) == {"id", "name", "age"}
    assert (created["name"], created["age"]) == ("Rusty-Man", 48)
    assert created["id"] != 999
    hero_id = created["id"]

    read = operation(page, "read_hero")
    fill_hero_id(read, hero_id)
    assert execute(read, "read_hero") == (200, created)

    listing = operation(page, "list_heroes")
    assert execute(listing, "list_heroes") == (200, [created])

    update = operation(page, "update_hero")
    fill_hero_id(update, hero_id)
    fill_body(update, {"age": 49})
    assert execute(update, "update_hero") == (200, created | {"age": 49})

    delete = operation(page, "delete_hero")
    fill_hero_id(delete, hero_id)
    assert execute(delete, "delete_hero") == (200, {"ok": True})

    assert blocked == [], f"/docs tried to reach other hosts: {blocked}"
    # What the browser did reached the service: the hero is gone.
    assert httpx.get(f"{service}/heroes/{hero_id}").json() == {"detail": "Hero not found"}


@pytest.mark.browser
def test_try_it_out_shows_a_missing_hero_as_404(
    service: str, offline_page: tuple[Page, list[str]]
) -> None:
    page, blocked = offline_page
    open_docs(page, service, blocked)
    read = operation(page, "read_hero")
    fill_hero_id(read, 123456789)
    assert execute(read, "read_hero_404") == (404, {"detail": "Hero not found"})
    assert blocked == []


@pytest.mark.browser
def test_redoc_renders_offline(service: str, offline_page: tuple[Page, list[str]]) -> None:
    page, blocked = offline_page
    page.goto(f"{service}/redoc")
    title = f"Heroes ({metadata('heroes')['Version']})"
    page.get_by_role("heading", name=title).wait_for()
    for summary in ("Create a hero", "List heroes", "Read a hero", "Update a hero"):
        # ReDoc names a heading by its anchor too; "Read a hero's history" must not match.
        exactly = re.compile(rf"(^|\s){re.escape(summary)}$")
        page.get_by_role("heading", name=exactly).wait_for()
    screenshot(page, "redoc")
    assert set(blocked) <= DECORATIVE, f"/redoc needed other hosts: {blocked}"


@pytest.fixture
def protected_service(tmp_path: Path) -> Iterator[str]:
    """The service with WRITE_POLICY=signed_in, and a user to sign in as."""
    with running_server(f"sqlite:///{tmp_path / 'heroes.db'}", WRITE_POLICY="signed_in") as server:
        account = {"username": "alice", "password": "correct horse battery staple"}
        assert httpx.post(f"{server.base_url}/users/", json=account).status_code == 200
        yield server.base_url


def authorize(page: Page, username: str, password: str) -> None:
    """Sign in through Swagger UI's Authorize dialog (the OAuth2 password flow)."""
    page.locator(".auth-wrapper .authorize").first.click()
    dialog = page.locator(".modal-ux")
    dialog.locator("#oauth_username").fill(username)
    dialog.locator("#oauth_password").fill(password)
    dialog.locator("button.modal-btn.authorize").click()
    dialog.locator("button.modal-btn", has_text="Logout").wait_for()
    screenshot(dialog, "authorized")
    dialog.locator("button.modal-btn.btn-done").click()


@pytest.mark.browser
def test_authorize_signs_in_and_try_it_out_then_sends_the_token(
    protected_service: str, offline_page: tuple[Page, list[str]]
) -> None:
    page, blocked = offline_page
    open_docs(page, protected_service, blocked)
    new_hero = {"name": "Rusty-Man", "age": 48, "secret_name": "Tommy Sharp"}

    create = operation(page, "create_hero")
    fill_body(create, new_hero)
    assert execute(create, "create_hero_signed_out") == (
        401,
        {"detail": "Not signed in: send Authorization: Bearer with an access token"},
    )
    create.get_by_role("button", name="Clear").click()  # the answer above goes
    authorize(page, "alice", "correct horse battery staple")
    status, created = execute(create, "create_hero_signed_in")
    me = operation(page, "read_me", tag="users")

    assert status == 200
    assert set(created) == {"id", "name", "age"}
    assert execute(me, "read_me") == (200, {"id": 1, "username": "alice", "is_admin": False})
    assert blocked == [], f"/docs tried to reach other hosts: {blocked}"
    stored = httpx.get(f"{protected_service}/heroes/{created['id']}").json()
    assert stored == created
