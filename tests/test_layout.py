"""The package's shape: the README's layout map is the tree, imports run one way, and no
module-level import cycle exists."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service_process import REPO_ROOT

APP = REPO_ROOT / "app"
DOMAINS = ("heroes", "teams")
"""Packages that hold one resource each; they share only their services and models."""
PUBLIC_MODULES = ("service", "models")


def layout_map() -> dict[str, bool]:
    """The app/ entries the README's Layout section lists: path -> whether entries are
    listed under it (a folder listed without any covers all it holds)."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    entries: dict[str, bool] = {}
    parents: list[str] = []
    for line in block.splitlines():
        match = re.match(r"( *)(\S+)", line)
        if match is None or line.startswith(("tests/", "bench/", "docs/", ".ci/", " " * 21)):
            continue
        depth, name = len(match.group(1)) // 2, match.group(2)
        if depth == 0:
            continue  # app/ itself
        del parents[depth - 1 :]
        path = "/".join([*parents, name.rstrip("/")])
        if parents:
            entries["/".join(parents)] = True
        entries.setdefault(path, False)
        if name.endswith("/"):
            parents.append(name.rstrip("/"))
    return entries


def app_files() -> Iterator[Path]:
    for path in APP.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.name != "__init__.py":
            yield path


def test_the_layout_map_names_only_what_exists() -> None:
    missing = [path for path in layout_map() if not (APP / path).exists()]

    assert missing == []


def test_the_layout_map_covers_every_module() -> None:
    entries = layout_map()
    leaves = [path for path, has_children in entries.items() if not has_children]

    def covered(relative: str) -> bool:
        return any(relative == leaf or relative.startswith(leaf + "/") for leaf in leaves)

    uncovered = [
        str(path.relative_to(APP))
        for path in app_files()
        if path.suffix == ".py" and not covered(str(path.relative_to(APP)))
    ]
    assert uncovered == []


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in APP.rglob("*.py") if "migrations" not in path.parts}


def imported(path: Path, *, module_level: bool) -> set[str]:
    """The app modules a module imports (at its top level only, if asked), with the packages
    whose __init__ those imports run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    found = set()
    for name in names:
        parts = name.split(".")
        found |= {".".join(parts[:end]) for end in range(2, len(parts) + 1)}
    return {name for name in found if name in MODULES}


def test_no_module_level_import_cycle() -> None:
    # A module's own packages are imported before it runs, whatever it imports.
    graph = {
        name: {target for target in imported(path, module_level=True) if not _within(name, target)}
        for name, path in MODULES.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize(
    ("layer", "never"),
    [
        ("app.db", ("app.http", "app.kit", "app.health", "app.observability", "app.main")),
        ("app.http", ("app.kit", "app.main", *(f"app.{domain}" for domain in DOMAINS))),
        ("app.kit", ("app.main", *(f"app.{domain}" for domain in DOMAINS))),
        ("app.config", ("app.db", "app.http", "app.kit", "app.main")),
    ],
)
def test_imports_run_one_way(layer: str, never: tuple[str, ...]) -> None:
    wrong = {
        (name, target)
        for name, path in MODULES.items()
        if name == layer or name.startswith(layer + ".")
        for target in imported(path, module_level=False)
        if target.startswith(never)
    }
    assert wrong == set()


def test_domains_use_each_other_only_through_services_and_models() -> None:
    wrong = set()
    for name, path in MODULES.items():
        own = name.split(".")[1] if "." in name else ""
        if own not in DOMAINS:
            continue  # main.py wires every domain in: it may import any of them
        for target in imported(path, module_level=False):
            parts = target.split(".")
            other = parts[1]
            private = len(parts) > 2 and parts[2] not in PUBLIC_MODULES
            if other in DOMAINS and other != own and private:
                wrong.add((name, target))
    assert wrong == set()
