"""What each path answers, whatever the method: HEAD, OPTIONS, 405 with `Allow`, and a
collection's URL with or without its trailing slash.

FastAPI routes one method per route and knows nothing of HEAD; Starlette answers a method a
path lacks with the methods of the first route that matched it only. Here:
- HEAD runs the GET route and sends its headers (Content-Length included) without the body;
- OPTIONS on a path that exists answers 204 with `Allow`;
- 405 lists in `Allow` every method the path has;
- `/heroes` is served as `/heroes/` in place: no redirect, so no client loses its method or
  body on the way.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.context import ERROR_KIND_KEY

# What the routed request tells the middleware outside (logs and metrics).
_REPORTED = ("route", ERROR_KIND_KEY)
# The order `Allow` lists methods in.
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True, slots=True)
class _PathMethods:
    pattern: re.Pattern[str]
    methods: frozenset[str]


class RouteTable:
    """The methods of every routed path, read from the app's routes once they are all in."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        entries: list[_PathMethods] = []
        collections: set[str] = set()
        for route in iter_route_contexts(routes):  # included routers' routes too
            pattern = getattr(route, "path_regex", None)
            methods = route.methods or _mounted_methods(route.original_route)
            if pattern is None or not methods:
                continue
            entries.append(_PathMethods(pattern, frozenset(methods)))
            path = route.path or ""
            if len(path) > 1 and path.endswith("/"):
                collections.add(path.removesuffix("/"))
        self._entries = tuple(entries)
        self.collections = frozenset(collections)
        """Paths that are served as the same path with a trailing slash."""

    def allowed(self, path: str) -> tuple[str, ...]:
        """The methods `path` answers, in `Allow`'s order; empty if no route has the path."""
        methods = {
            m for entry in self._entries if entry.pattern.match(path) for m in entry.methods
        }
        if not methods:
            return ()
        if "GET" in methods:
            methods.add("HEAD")
        methods.add("OPTIONS")
        return tuple(method for method in _METHOD_ORDER if method in methods)


def _mounted_methods(route: BaseRoute) -> set[str] | None:
    """The methods of a mount that serves files (the docs' assets): GET, and so HEAD."""
    if isinstance(route, Mount) and isinstance(route.app, StaticFiles):
        return {"GET", "HEAD"}
    return None


class LazyRouteTable:
    """The app's route table, read from its routes when first needed: by then every
    router is included (middleware is added before them)."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._routes = routes  # the app's own list, filled later
        self._table: RouteTable | None = None

    def get(self) -> RouteTable:
        if self._table is None:
            self._table = RouteTable(self._routes)
        return self._table


def _route_path(scope: Scope) -> str:
    """The path the app's routes match, inside a mount too (a mount moves `root_path`)."""
    path: str = scope["path"]
    root_path: str = scope.get("app_root_path", scope.get("root_path", ""))
    return path.removeprefix(root_path) if root_path else path


class PathMethods:
    """ASGI middleware, innermost: it serves the requests Starlette's router would refuse."""

    def __init__(self, app: ASGIApp, routes: LazyRouteTable) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        table = self.routes.get()
        path = _route_path(scope)
        inner = scope
        if path in table.collections:
            path += "/"
            inner = _with_trailing_slash(scope)
        method = scope["method"]
        if method == "OPTIONS" and (allowed := table.allowed(path)):
            response = Response(status_code=204, headers={"Allow": ", ".join(allowed)})
            await response(scope, receive, send)
            return
        if method == "HEAD" and "GET" in table.allowed(path):
            inner = {**inner, "method": "GET"}
            send = _headers_only(send)
        try:
            await self.app(inner, receive, send)
        finally:
            if inner is not scope:  # what the middleware outside logs and counts
                scope.update((key, inner[key]) for key in _REPORTED if key in inner)


def _with_trailing_slash(scope: Scope) -> Scope:
    raw_path: bytes | None = scope.get("raw_path")
    return {
        **scope,
        "path": scope["path"] + "/",
        "raw_path": raw_path + b"/" if raw_path is not None else None,
    }


def _headers_only(send: Send) -> Send:
    """A `send` that passes a response's start (headers) and ends its body empty at the
    body's first part: a response that streams without end (the change feed's events)
    is then complete, and its app hears that the client is done."""
    ended = False

    async def send_headers(message: Message) -> None:
        nonlocal ended
        if message["type"] == "http.response.body":
            if ended:
                return
            ended = True
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return send_headers


def install_path_methods(app: FastAPI) -> None:
    """Call first of all middleware, so that this one runs innermost, next to the router."""
    routes = LazyRouteTable(app.router.routes)

    async def method_not_allowed(request: Request, error: Exception) -> Response:
        """FastAPI's answer to an HTTP error, with `Allow` listing the path's methods."""
        assert isinstance(error, HTTPException)  # noqa: S101  # registered for HTTPException
        if error.status_code == 405:
            allowed = routes.get().allowed(_route_path(request.scope))
            error.headers = {**(error.headers or {}), "Allow": ", ".join(allowed)}
        return await http_exception_handler(request, error)

    app.add_middleware(PathMethods, routes=routes)
    app.add_exception_handler(HTTPException, method_not_allowed)
