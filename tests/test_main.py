"""The module's `app`: built on first use, found by the tools that serve it."""

import subprocess
import sys
from pathlib import Path

import httpx2 as httpx

from tests.conftest import REPO_ROOT, free_port, stop_server, wait_until_serving


def test_fastapi_run_finds_and_serves_the_app(tmp_path: Path) -> None:
    port = free_port()
    fastapi = Path(sys.executable).parent / "fastapi"
    command = [str(fastapi), "run", "app/main.py", "--host", "127.0.0.1", "--port", str(port)]
    environment = {"DATABASE_URL": f"sqlite:///{tmp_path / 'heroes.db'}", "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(  # noqa: S603  # our own tool and arguments
        command, cwd=REPO_ROOT, env=environment, stdout=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base_url, process, seconds=30)
        created = httpx.post(f"{base_url}/heroes/", json={"name": "Run", "secret_name": "r"})
    finally:
        stop_server(process)

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
