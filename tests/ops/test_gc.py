"""What start-up builds stays out of the garbage collector's way while the app runs."""

import gc
from pathlib import Path

from fastapi.testclient import TestClient

from app.config import load_settings
from app.main import create_app


def test_startup_objects_are_frozen_while_the_app_runs_and_released_after(
    tmp_path: Path,
) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'heroes.db'}")
    app = create_app(settings)
    gc.unfreeze()  # whatever another app of this test process left frozen

    with TestClient(app) as client:
        frozen_while_serving = gc.get_freeze_count()
        assert client.get("/heroes/").status_code == 200

    assert frozen_while_serving > 10_000  # modules, routes and models, not a handful
    assert gc.get_freeze_count() == 0
