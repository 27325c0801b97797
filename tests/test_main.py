"""The module's `app`: built on first use, found by the tools that serve it."""

import subprocess
import sys
from pathlib import Path

import httpx2 as httpx

from tests.service_process import REPO_ROOT, ServiceProcess


def test_fastapi_run_finds_and_serves_the_app(tmp_path: Path) -> None:
    fastapi = Path(sys.executable).parent / "fastapi"
    server = ServiceProcess.start(
        [str(fastapi), "run", "app/main.py"],
        environment={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'heroes.db'}",
            "PATH": "/usr/bin:/bin",
        },
        inherit_environment=False,  # nothing of ours helps it find the app
        log_path=tmp_path / "fastapi.log",
        ready_path="/heroes/?limit=0",
        seconds=30,
    )
    try:
        created = httpx.post(
            f"{server.base_url}/heroes/", json={"name": "Run", "secret_name": "r"}
        )
    finally:
        server.stop(timeout=10)

    assert created.status_code == 200
    assert set(created.json()) == {"id", "name", "age"}


def test_the_app_is_listed_among_the_module_names_before_it_is_built() -> None:
    code = "import app.main as m; print('app' in dir(m), 'app' in vars(m))"

    result = subprocess.run(  # noqa: S603  # our own interpreter
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"DATABASE_URL": "sqlite://", "PATH": "/usr/bin:/bin"},
    )

    assert result.stdout.split() == ["True", "False"]  # named, and not built by the import
