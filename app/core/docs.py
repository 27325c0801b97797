"""API docs that work offline: Swagger UI at /docs and ReDoc at /redoc, served by the service.

FastAPI's own docs pages load their JavaScript, CSS and favicon from a CDN, so on a machine
without internet access they are blank. Here the same pages load those files from the
`fastapi-offline` package (pinned in pyproject.toml), which ships the Swagger UI and ReDoc
distributions; the service serves them under STATIC_URL.
"""

from importlib.metadata import metadata
from importlib.resources import files
from pathlib import Path
from typing import TypedDict

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

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


def install_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc with their assets from this service only.

    The app must be created with `docs_url=None, redoc_url=None`.
    """
    app.mount(STATIC_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{title} - Swagger UI",
            oauth2_redirect_url=None,  # the API has no OAuth2 flow to return from
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )
