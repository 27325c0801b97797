"""How `heroes serve` reads requests off the socket: uvicorn's httptools protocol, with a
limit on the request head's size while it arrives and a deadline for it to arrive.

httptools (llhttp) has no limit of its own: uvicorn read a 100 MB header whole, httptools
joining its pieces as they came, which grew a worker by 300 MB and stalled it for seconds
(issue "Hardening", 2026-12-02). This protocol counts the bytes of a head still being read
and, past the limit, answers 431 and closes the connection, so a head is never buffered
beyond the limit and one read (256 KB). h11 has the same limit built in
(`h11_max_incomplete_event_size`); `heroes serve` sets both from MAX_REQUEST_HEAD_SIZE,
and this protocol reads its limit from there. The middleware in app/http/head_limit.py
then checks each header line of a head that fits. The deadline is explained in
app/http/timeouts.py, beside the body's.
"""

import asyncio
import socket
import struct
from functools import partial
from http import HTTPStatus
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.http.errors import (
    HeadTooLarge,
    HttpError,
    InvalidHttpRequest,
    RequestTimedOut,
    error_response,
)
from app.http.security import SECURITY_HEADERS
from app.http.timeouts import CLOSE
from app.observability.context import request_id_from


def raw_answer(error: type[HttpError]) -> bytes:
    """An error the protocol answers itself, before the app sees a request, rendered as the
    app renders every error: the JSON body, a request id, the security headers; and the
    connection closed after it."""
    request_id = request_id_from(None)
    response = error_response(error, CLOSE | {"X-Request-ID": request_id})
    status = f"HTTP/1.1 {response.status_code} {HTTPStatus(response.status_code).phrase}"
    headers = [*response.raw_headers, *SECURITY_HEADERS]
    lines = [status.encode(), *(name + b": " + value for name, value in headers)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + response.body


class HeadLimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a head over `h11_max_incomplete_event_size`."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_size: int = config.h11_max_incomplete_event_size or 16 * 1024
        self.reading_head = True
        self.head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self.reading_head:
            self.head_bytes += len(data)
        super().data_received(data)
        if self.reading_head and self.head_bytes > self.max_head_size:
            self._refuse_head()

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self.head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.reading_head = True  # the next request on this connection
        super().on_message_complete()

    def _refuse_head(self) -> None:
        if self.transport.is_closing():
            return
        answering = self.cycle is not None and not self.cycle.response_complete
        if not answering:  # else a response is on the wire: closing is all that is left
            self.transport.write(raw_answer(HeadTooLarge))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A request the parser refuses (a NUL in a header, a Content-Length of -1,
        Content-Length beside Transfer-Encoding...): uvicorn's plain-text 400, made JSON."""
        self.transport.write(raw_answer(InvalidHttpRequest))


class HeaderTimeoutProtocol(HeadLimitedHttpToolsProtocol):
    """The head-limited protocol with a deadline on each request's head too, and one for
    a client that stops reading: once its socket and the transport's buffer are full
    (the transport asks to pause writing), the client must read some within
    `send_timeout` seconds, else the connection is dropped (not closed, which would wait
    for the buffer to drain: forever). An event stream to a client that stopped reading
    would otherwise hold its connection and buffers for as long as the client lives."""

    def __init__(
        self, *args: Any, header_timeout: float, send_timeout: float = 10.0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.head_deadline: asyncio.TimerHandle | None = None
        self.head_begun = False
        self.send_timeout = send_timeout
        self.send_deadline: asyncio.TimerHandle | None = None

    def connection_made(  # type: ignore[override]  # uvicorn's own signature
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._reading_again()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.send_deadline is None:
            self.send_deadline = self.loop.call_later(self.send_timeout, self._drop)

    def resume_writing(self) -> None:
        self._reading_again()
        super().resume_writing()

    def _drop(self) -> None:
        """Reset the connection: a plain close would leave the kernel to keep trying to
        deliver what its buffer holds (megabytes) to a client that reads nothing."""
        self.send_deadline = None
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def _reading_again(self) -> None:
        if self.send_deadline is not None:
            self.send_deadline.cancel()
            self.send_deadline = None

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
            self.transport.write(raw_answer(RequestTimedOut))
        self.transport.close()


def serve_protocol(header_timeout: float, send_timeout: float) -> Any:
    """What `heroes serve` passes to uvicorn as `http=`: picklable, for its workers."""
    return partial(HeaderTimeoutProtocol, header_timeout=header_timeout, send_timeout=send_timeout)
