"""Schemathesis against the running service, on every backend: all of its checks (server
errors, status codes, headers and bodies against the schema, valid input accepted and
invalid input refused, methods and `Allow`, stateful sequences) over bounded examples.

The seed is fixed so that a failure reproduces; tests/schemathesis.toml says which answers a
valid request may get besides success.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.service_process import REPO_ROOT

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = {"SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(REPO_ROOT)}
EXAMPLES = 40  # per operation and phase: about 2,000 requests, a few seconds


def test_schemathesis_finds_no_failure(live_server: str, tmp_path: Path) -> None:
    command = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "--no-color", "run"]
    command += [f"{live_server}/openapi.json", "--checks", "all"]
    command += ["--max-examples", str(EXAMPLES), "--seed", "20261124"]
    command += ["--generation-database", "none", "--request-timeout", "10", "--workers", "1"]

    result = subprocess.run(  # noqa: S603  # our own tool and arguments
        command,
        cwd=tmp_path,
        env=os.environ | HOOKS,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "Tested: 23" in result.stdout, report  # every operation was exercised
