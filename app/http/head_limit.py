"""The request head's size, checked before any middleware or route reads a header.

Without a limit one 100 MB header grew a worker by 300 MB and stalled it for seconds
(issue "Hardening", 2026-12-02): every layer that looks at a header copies or parses it.
Here a header line (name and value) over `max_header_size` bytes, or a head (request
target and every header line) over `max_head_size`, is answered 431, and a request target
over `max_header_size` 414, as nginx refuses a line over its header buffer. `heroes serve`
also stops the parser itself from buffering a larger head (app/http/server.py).
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.errors import HeadTooLarge, UriTooLong, error_response

# ": " and CRLF around each header line, as it came on the wire.
_LINE_OVERHEAD = 4


def head_size_error(
    scope: Scope, max_header_size: int, max_head_size: int
) -> type[HeadTooLarge] | type[UriTooLong] | None:
    """What is wrong with this request's head, if anything."""
    target = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
    if target > max_header_size:
        return UriTooLong
    total = target
    for name, value in scope["headers"]:
        line = len(name) + len(value) + _LINE_OVERHEAD
        if line > max_header_size:
            return HeadTooLarge
        total += line
    return HeadTooLarge if total > max_head_size else None


class RequestHeadLimitMiddleware:
    """Pure ASGI, outside everything that reads headers (hosts, CORS, the rate limit)."""

    def __init__(self, app: ASGIApp, max_header_size: int, max_head_size: int) -> None:
        self.app = app
        self.max_header_size = max_header_size
        self.max_head_size = max_head_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            error = head_size_error(scope, self.max_header_size, self.max_head_size)
            if error is not None:
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
