"""A new user on a machine with no internet opens /docs and tries every route.

Real headless Chromium (Debian's `chromium`, installed by .ci/browser) driven by Playwright,
against the service running under uvicorn on 127.0.0.1. Every request the page makes to
any other host is blocked and recorded, and the test fails if there was one. Screenshots
go to test-artifacts/screenshots/. Run alone with `pytest -m browser`.
"""

import json
import os
import shutil
from collections.abc import Iterator
from importlib.metadata import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Route, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import REPO_ROOT, skip_or_fail, start_server, stop_server

pytestmark = pytest.mark.browser

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
    base_url, process = start_server(f"sqlite:///{tmp_path / 'heroes.db'}")
    try:
        yield base_url
    finally:
        stop_server(process)


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


def operation(page: Page, operation_id: str) -> Locator:
    """Swagger UI's block for one operation, expanded, with "Try it out" pressed."""
    block = page.locator(f"#operations-heroes-{operation_id}")
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


def test_try_it_out_works_for_every_route_offline(
    service: str, offline_page: tuple[Page, list[str]]
) -> None:
    page, blocked = offline_page
    open_docs(page, service, blocked)

    create = operation(page, "create_hero")
    example = create.locator("textarea.body-param__text").input_value()
    assert json.loads(example) == {"name": "Deadpond", "age": 28, "secret_name": "Dive Wilson"}
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


def test_try_it_out_shows_a_missing_hero_as_404(
    service: str, offline_page: tuple[Page, list[str]]
) -> None:
    page, blocked = offline_page
    open_docs(page, service, blocked)
    read = operation(page, "read_hero")
    fill_hero_id(read, 123456789)
    assert execute(read, "read_hero_404") == (404, {"detail": "Hero not found"})
    assert blocked == []


def test_redoc_renders_offline(service: str, offline_page: tuple[Page, list[str]]) -> None:
    page, blocked = offline_page
    page.goto(f"{service}/redoc")
    title = f"Heroes ({metadata('heroes')['Version']})"
    page.get_by_role("heading", name=title).wait_for()
    for summary in ("Create a hero", "List heroes", "Read a hero", "Update a hero"):
        page.get_by_role("heading", name=summary).wait_for()
    screenshot(page, "redoc")
    assert set(blocked) <= DECORATIVE, f"/redoc needed other hosts: {blocked}"
