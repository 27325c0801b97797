"""Per-request observation as pure ASGI: request id, one access log line, metrics."""

import logging
import re
import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability import metrics
from app.observability.context import (
    REQUEST_ID,
    error_kind,
    mark_error_kind,
    request_id_from,
)

access_log = logging.getLogger("app.access")
error_log = logging.getLogger("app.errors")


class ObserveRequests:
    """Stamp each HTTP request with an id, then log and count it when it ends."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes  # the app's own list: routes included later are in it too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(_header(scope, b"x-request-id"))
        token = REQUEST_ID.set(request_id)
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500  # what the server answers if the app raises before responding

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            await send(message)

        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            mark_error_kind(scope, "unhandled")
            raise
        finally:
            metrics.IN_FLIGHT.dec()
            _finish(scope, self._route(scope), status, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _route(self, scope: Scope) -> str:
        """The template of the route that answered, or would have (for a request refused
        before routing: 429, 413, a CORS preflight)."""
        route = scope.get("route")
        if route is None:
            route = next(
                (each for each in self.routes if each.matches(scope)[0] != Match.NONE), None
            )
        path: str = getattr(route, "path", metrics.UNMATCHED_ROUTE)
        # Without its segments' types (`{hero_id:row_id}`): the template as the docs name it.
        return _SEGMENT_TYPE.sub("}", path)


_SEGMENT_TYPE = re.compile(r":\w+}")


def _finish(scope: Scope, route: str, status: int, seconds: float) -> None:
    method: str = scope["method"]
    metrics.record_request(method, route, status, seconds)
    if access_log.isEnabledFor(logging.INFO):
        duration_ms = round(seconds * 1000, 3)
        fields = {"method": method, "route": route, "status": status, "duration_ms": duration_ms}
        access_log.info("request", extra={"fields": fields})
    if status >= 400:
        kind = error_kind(scope) or f"http_{status}"
        metrics.ERRORS.labels(kind).inc()
        level = logging.ERROR if status >= 500 else logging.INFO
        fields = {"kind": kind, "status": status, "route": route}
        error_log.log(level, "error", extra={"fields": fields})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            found: bytes = value
            return found
    return None
