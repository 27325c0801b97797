"""Request limits enforced before a route runs."""

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import BodyTooLarge, error_response


class BodySizeLimitMiddleware:
    """Answer 413 for a body over `max_body_size` bytes, declared or streamed.

    A declared Content-Length over the limit is refused before the app runs. A streamed
    body is counted as it arrives; going over raises an HTTPException, which FastAPI
    passes through its body parsing to the JSON error handler.
    """

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if _over(declared, self.max_body_size):
            await error_response(BodyTooLarge)(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_size:
                raise HTTPException(BodyTooLarge.status_code, BodyTooLarge.detail)
            return message

        return counting_receive


def _over(declared: str, limit: int) -> bool:
    """Whether a Content-Length says more than `limit`. Only ASCII digits count ("²" is a
    digit to str.isdigit, not to int), and a number too long to be under the limit is over
    it unread (int() refuses more than 4,300 digits): either was a 500."""
    if not (declared.isascii() and declared.isdigit()):
        return False
    digits = declared.lstrip("0") or "0"
    return len(digits) > len(str(limit)) or int(digits) > limit
