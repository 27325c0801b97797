"""API docs that work offline: Swagger UI at /docs and ReDoc at /redoc, served by the service.

FastAPI's own docs pages load their JavaScript, CSS and favicon from a CDN, so on a machine
without internet access they are blank. The app is made by `fastapi-offline` (pinned in
pyproject.toml), which serves the same pages with the Swagger UI and ReDoc files it ships,
under STATIC_URL. This module holds what the service tells it.
"""

from importlib.metadata import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any, TypedDict

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
STATIC_URL = "/static/docs"
ASSETS = Path(str(files("fastapi_offline") / "static"))

SWAGGER_UI_PARAMETERS = {
    # The online validator badge would send the spec to a third-party host.
    "validatorUrl": None,
    "displayRequestDuration": True,
    "defaultModelsExpandDepth": 0,
}

SECURITY_SCHEME = "OAuth2PasswordBearer"
TOKEN_URL = "/auth/token"  # noqa: S105  # a path, not a password
SECURITY_SCHEMES = {
    SECURITY_SCHEME: {
        "type": "oauth2",
        "description": (
            "Sign in with a username and password (POST /auth/token) for a bearer token. "
            "Whether an operation needs one is the deployment's choice (WRITE_POLICY, "
            "READ_POLICY); a token sent where none is needed still says who wrote."
        ),
        "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}},
    }
}
SIGNED_IN: dict[str, Any] = {"security": [{SECURITY_SCHEME: []}]}
"""An operation's `openapi_extra` when it always needs a signed-in user."""
SIGNED_IN_IF_POLICY: dict[str, Any] = {"security": [{SECURITY_SCHEME: []}, {}]}
"""An operation's `openapi_extra` when it needs one if the deployment's policy says so
(`{}`: no token)."""

_DESCRIPTION = """{summary}

Every error is a JSON object `{{"detail": ...}}`: each operation lists the errors it can
answer, with an example.

These pages are served by the service itself and work without internet access.
"""


class ApiInfo(TypedDict):
    title: str
    version: str
    description: str


def api_info() -> ApiInfo:
    """Title, version and description of the API, from the installed package's metadata."""
    package = metadata("heroes")
    return {
        "title": package["Name"].title(),
        "version": package["Version"],
        "description": _DESCRIPTION.format(summary=package["Summary"]),
    }


def operation_id(route: APIRoute) -> str:
    """Readable, stable operation ids: the route function's name, such as `create_hero`."""
    return route.name


class RevalidatedAssets(StaticFiles):
    """The docs' files, saying how caches may keep them: they carry an ETag and
    Last-Modified, and like every answer of the service that does, they tell a cache to
    revalidate before each use (`no-cache`), which a 304 makes cheap. The files change only
    with the pinned fastapi-offline, but a day's max-age would serve an upgrade's old files
    for a day."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def revalidate_assets(app: FastAPI) -> None:
    """Serve the files FastAPIOffline mounts at STATIC_URL (its package's, ASSETS) so."""
    for route in app.router.routes:
        if isinstance(route, Mount) and route.path == STATIC_URL:
            route.app = RevalidatedAssets(directory=ASSETS)
