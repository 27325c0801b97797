"""Deadlines for a client that stalls, so that it cannot hold a connection forever.

uvicorn closes a connection that is idle between requests (`timeout_keep_alive`), but it
waits without end for a connection that sends nothing, half a request head, or part of a
declared body: 1,100 such connections starved every request of a worker (issue
"Hardening", 2026-12-02). Two deadlines close them, as nginx's `client_header_timeout`
and `client_body_timeout` do:

- `HeaderTimeoutProtocol` (app/http/server.py), the HTTP/1.1 protocol `heroes serve` gives
  uvicorn: from the moment a connection opens, or the first byte after a response, its
  request's head must be complete within `CLIENT_HEADER_TIMEOUT` seconds. Otherwise the
  connection is closed: silently if no request was begun, after a 408 in the JSON error
  shape if one was.
- `BodyTimeoutMiddleware`, in the app: each `receive()` of a request's body must bring
  something within `CLIENT_BODY_TIMEOUT` seconds, else 408 with `Connection: close`. It
  times the body only while the app waits for it, so a client is never blamed for the app's
  own pace (uvicorn stops reading from a client whose body the app has not taken yet).
"""

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import RequestTimedOut

CLOSE = {"Connection": "close"}


class BodyTimeoutMiddleware:
    """408 for a request body that stops arriving for `timeout` seconds."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, self._in_time(receive), send)

    def _in_time(self, receive: Receive) -> Receive:
        complete = False

        async def receive_in_time() -> Message:
            nonlocal complete
            if complete:  # later calls wait for the client to leave: no deadline
                return await receive()
            try:
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                # An HTTPException passes through FastAPI's body parsing to the handler,
                # as the body limit's does (app/http/body_limit.py).
                raise HTTPException(408, RequestTimedOut.detail, headers=CLOSE) from None
            complete = message["type"] != "http.request" or not message.get("more_body")
            return message

        return receive_in_time
