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
        if declared.isdigit() and int(declared) > self.max_body_size:
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
