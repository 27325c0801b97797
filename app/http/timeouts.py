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
- `BodyTimeoutMiddleware`, in the app: a request's whole body must have arrived within
  `CLIENT_BODY_TIMEOUT` seconds of the app starting to read it, else 408 with
  `Connection: close`. A deadline for the whole body, not for each part (nginx's
  `client_body_timeout`): one byte every few seconds kept a connection forever, and 1,000 of
  them starved a worker at its file limit. A body of MAX_BODY_SIZE (1 MB) must therefore
  come at 100 KB/s or more. The body is timed only while the app reads it, so a client is
  never blamed for the app's own pace (uvicorn stops reading from a client whose body the
  app has not taken yet).
"""

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import RequestTimedOut

CLOSE = {"Connection": "close"}


class BodyTimeoutMiddleware:
    """408 for a request body not all there `timeout` seconds after the app began reading."""

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
        deadline: float | None = None

        async def receive_in_time() -> Message:
            nonlocal complete, deadline
            if complete:  # later calls wait for the client to leave: no deadline
                return await receive()
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                # An HTTPException passes through FastAPI's body parsing to the handler,
                # as the body limit's does (app/http/body_limit.py).
                raise HTTPException(408, RequestTimedOut.detail, headers=CLOSE) from None
            complete = message["type"] != "http.request" or not message.get("more_body")
            return message

        return receive_in_time
