"""Clients generated from /openapi.json work unedited: a Python client made by
openapi-python-client walks a hero's whole life and pages by cursor against the running
service, on each backend; where Node is installed, TypeScript types made by
openapi-typescript type-check a small program that uses them."""

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from app.config import load_settings
from app.main import create_app
from tests.conftest import skip_or_fail
from tests.service_process import REPO_ROOT

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PAGE = 100  # the list's default limit, which the client sends on every call
TYPESCRIPT = REPO_ROOT / "tests" / "clients"  # package.json and usage.ts; bash .ci/node
TSC_OPTIONS = ["--noEmit", "--strict", "--target", "es2022", "--module", "es2022"]
TSC_OPTIONS += ["--moduleResolution", "bundler", "--lib", "es2022,dom"]


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    settings = load_settings(database_url="sqlite://", environment="test")
    document: dict[str, Any] = TestClient(create_app(settings)).get("/openapi.json").json()
    return document


def generate_client(base_url: str, directory: Path) -> ModuleType:
    """The Python client openapi-python-client makes from the live /openapi.json, imported
    as a package of its own (named after the directory, so that each test has its own)."""
    if not GENERATOR.exists():
        skip_or_fail("openapi-python-client is missing (it is in the dev extras)")
    document = directory / "openapi.json"
    document.write_bytes(httpx.get(f"{base_url}/openapi.json", timeout=10).content)
    package = f"heroes_client_{directory.name.replace('-', '_')}"
    command = [str(GENERATOR), "generate", "--path", str(document), "--meta", "none"]
    command += ["--output-path", str(directory / package)]
    # Its post-hook formats the code with ruff, which is beside it in the virtualenv.
    path = f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    made = subprocess.run(  # noqa: S603  # our own tool and arguments
        command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | {"PATH": path},
    )
    assert made.returncode == 0, made.stdout + made.stderr
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(directory))


@pytest.fixture
def generated(live_server: str, tmp_path: Path) -> Iterator[tuple[ModuleType, Any]]:
    """The generated package and one of its clients, talking to the live service."""
    package = generate_client(live_server, tmp_path)
    with package.Client(base_url=live_server, raise_on_unexpected_status=True) as client:
        yield package, client
    for name in [name for name in sys.modules if name.startswith(package.__name__)]:
        del sys.modules[name]


def api(package: ModuleType, operation: str) -> Any:
    return importlib.import_module(f"{package.__name__}.api.heroes.{operation}")


def models(package: ModuleType) -> Any:
    return importlib.import_module(f"{package.__name__}.models")


def test_a_generated_python_client_walks_a_heroes_whole_life(
    generated: tuple[ModuleType, Any],
) -> None:
    package, client = generated
    create, read = api(package, "create_hero"), api(package, "read_hero")
    update, delete = api(package, "update_hero"), api(package, "delete_hero")
    types = models(package)

    body = types.HeroCreate(name="Deadpond", secret_name="Dive Wilson")
    created = create.sync_detailed(client=client, body=body)
    hero = created.parsed
    etag = created.headers["etag"]
    read_back = read.sync_detailed(hero.id, client=client)
    not_modified = read.sync_detailed(hero.id, client=client, if_none_match=etag)
    changes = types.HeroUpdate(age=29)
    updated = update.sync_detailed(hero.id, client=client, body=changes, if_match=etag)
    stale = update.sync_detailed(hero.id, client=client, body=changes, if_match=etag)
    deleted = delete.sync_detailed(hero.id, client=client)
    gone = read.sync_detailed(hero.id, client=client)

    assert created.status_code == 200
    assert isinstance(hero, types.HeroPublic)
    assert (hero.name, hero.age) == ("Deadpond", None)  # age: always sent, here null
    assert read_back.status_code == 200
    assert read_back.parsed.to_dict() == {"name": "Deadpond", "age": None, "id": hero.id}
    assert not_modified.status_code == 304
    assert not_modified.parsed is None
    assert updated.status_code == 200
    assert updated.parsed.age == 29
    assert updated.headers["etag"] != etag
    assert stale.status_code == 412
    assert isinstance(stale.parsed, types.ErrorBody)
    assert stale.headers["etag"] == updated.headers["etag"]
    assert deleted.status_code == 200
    assert deleted.parsed.ok is True
    assert gone.status_code == 404
    assert gone.parsed.detail == "Hero not found"


def next_cursor(link: str) -> str | None:
    """The cursor of the `Link` header's rel="next", if there is one."""
    for part in link.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params:
            query = parse_qs(urlsplit(target.strip(" <>")).query)
            assert "offset" not in query, "the links page by offset"
            return query["cursor"][0]
    return None


def test_a_generated_python_client_pages_by_cursor_with_its_own_defaults(
    generated: tuple[ModuleType, Any],
) -> None:
    package, client = generated
    create, listing = api(package, "create_hero"), api(package, "list_heroes")
    types = models(package)
    made = [
        create.sync(client=client, body=types.HeroCreate(name=f"Hero {n}", secret_name="s"))
        for n in range(PAGE + 5)
    ]

    seen: list[int] = []
    pages = 0
    cursor = None
    while True:
        page = listing.sync_detailed(client=client, **({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.content
        seen += [hero.id for hero in page.parsed]
        pages += 1
        cursor = next_cursor(page.headers.get("link", ""))
        if cursor is None:
            break

    assert pages == 2
    assert seen == [hero.id for hero in made]


def node_tool(name: str) -> Path:
    tool = TYPESCRIPT / "node_modules" / ".bin" / name
    if shutil.which("node") is None or not tool.exists():
        skip_or_fail(f"{name} is missing (bash .ci/node installs Node and it)")
    return tool


def run_node_tool(*command: str, cwd: Path) -> None:
    done = subprocess.run(  # noqa: S603  # our own tools and arguments
        command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_typescript_types_type_check_a_client(
    openapi: dict[str, Any], tmp_path: Path
) -> None:
    generator, compiler = node_tool("openapi-typescript"), node_tool("tsc")
    (tmp_path / "openapi.json").write_text(json.dumps(openapi))
    shutil.copy(TYPESCRIPT / "usage.ts", tmp_path / "usage.ts")

    run_node_tool(str(generator), "openapi.json", "-o", "heroes-api.ts", cwd=tmp_path)
    run_node_tool(str(compiler), *TSC_OPTIONS, "usage.ts", cwd=tmp_path)


# --- what /openapi.json says, for generators -------------------------------------------


def test_offset_publishes_no_default(openapi: dict[str, Any]) -> None:
    parameters = openapi["paths"]["/heroes/"]["get"]["parameters"]
    offset = next(each for each in parameters if each["name"] == "offset")

    assert "default" not in json.dumps(offset["schema"])
    assert "cursor" in offset["description"]


def test_output_schemas_require_every_field_they_always_send(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]

    assert set(schemas["HeroPublic"]["required"]) == {"id", "name", "age"}
    assert {"type": "null"} in schemas["HeroPublic"]["properties"]["age"]["anyOf"]
    assert schemas["HeroCreate"]["required"] == ["name", "secret_name"]  # age: optional
    assert schemas["Deleted"]["required"] == ["ok"]


def test_the_list_declares_its_headers(openapi: dict[str, Any]) -> None:
    ok = openapi["paths"]["/heroes/"]["get"]["responses"]["200"]

    assert set(ok["headers"]) == {
        "Link",
        "X-Total-Count",
        "Preference-Applied",
        "Changes-Position",
    }
    assert ok["headers"]["X-Total-Count"]["schema"]["type"] == "integer"


def test_not_modified_declares_no_body(openapi: dict[str, Any]) -> None:
    not_modified = openapi["paths"]["/heroes/{hero_id}"]["get"]["responses"]["304"]

    assert "content" not in not_modified
    assert "ETag" in not_modified["headers"]
