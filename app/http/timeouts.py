"""Deadlines for a client that stalls, so that it cannot hold a connection forever.

uvicorn closes a connection that is idle between requests (`timeout_keep_alive`), but it
waits without end for a connection that sends nothing, half a request head, or part of a
declared body: 1,100 such connections starved every request of a worker (issue
"Hardening", 2026-12-02). Two deadlines close them, as nginx's `client_header_timeout`
and `client_body_timeout` do:

- `HeaderTimeoutProtocol`, the HTTP/1.1 protocol `heroes serve` gives uvicorn: from the
  moment a connection opens, or the first byte after a response, its request's head must
  be complete within `CLIENT_HEADER_TIMEOUT` seconds. Otherwise the connection is closed:
  silently if no request was begun, after a 408 in the JSON error shape if one was.
- `BodyTimeoutMiddleware`, in the app: each `receive()` of a request's body must bring
  something within `CLIENT_BODY_TIMEOUT` seconds, else 408 with `Connection: close`. It
  times the body only while the app waits for it, so a client is never blamed for the app's
  own pace (uvicorn stops reading from a client whose body the app has not taken yet).
"""

import asyncio
from functools import partial
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.http.errors import RequestTimedOut, error_response

_CLOSE = {"Connection": "close"}


def _timed_out_bytes() -> bytes:
    """The 408 a stalled head gets, whole, as the app's error handlers would render it."""
    response = error_response(RequestTimedOut, _CLOSE)
    head = [b"HTTP/1.1 408 Request Timeout"]
    head += [name + b": " + value for name, value in response.raw_headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + response.body


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on each request's head."""

    timed_out = _timed_out_bytes()

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.head_deadline: asyncio.TimerHandle | None = None
        self.head_begun = False

    def connection_made(  # type: ignore[override]  # uvicorn's own signature
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # After a response, uvicorn's keep-alive timer stops at the first byte: what comes
        # next (a head, or the rest of a body the app did not read) is on this deadline.
        if self.head_deadline is None and self._between_requests():
            self._arm()
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_begun = True
        if self.head_deadline is None:  # a pipelined request, begun while one runs
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        self.head_begun = False
        super().on_headers_complete()

    def _between_requests(self) -> bool:
        return self.cycle is None or bool(self.cycle.response_complete)

    def _arm(self) -> None:
        self.head_deadline = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _head_timed_out(self) -> None:
        self.head_deadline = None
        if self.transport.is_closing():
            return
        if not self._between_requests():
            # A pipelined head stalled while a response is on its way: finish that one,
            # then close.
            self.cycle.keep_alive = False
            return
        if self.head_begun:
            self.transport.write(self.timed_out)
        self.transport.close()


def header_timeout_protocol(header_timeout: float) -> Any:
    """What `heroes serve` passes to uvicorn as `http=`: picklable, for its workers."""
    return partial(HeaderTimeoutProtocol, header_timeout=header_timeout)


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
                raise HTTPException(408, RequestTimedOut.detail, headers=_CLOSE) from None
            complete = message["type"] != "http.request" or not message.get("more_body")
            return message

        return receive_in_time
