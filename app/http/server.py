"""How `heroes serve` reads requests off the socket: uvicorn's httptools protocol, with a
limit on the request head while it arrives.

httptools (llhttp) has no limit of its own: uvicorn read a 100 MB header whole, httptools
joining its pieces as they came, which grew a worker by 300 MB and stalled it for seconds
(issue "Hardening", 2026-12-02). This protocol counts the bytes of a head still being read
and, past the limit, answers 431 and closes the connection, so a head is never buffered
beyond the limit and one read (256 KB). h11 has the same limit built in
(`h11_max_incomplete_event_size`); `heroes serve` sets both from MAX_REQUEST_HEAD_SIZE,
and this protocol reads its limit from there. The middleware in app/http/head_limit.py
then checks each header line of a head that fits.
"""

import asyncio
import json
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.http.errors import HeadTooLarge
from app.observability.context import request_id_from

_BODY = json.dumps({"detail": HeadTooLarge.detail}).encode()


def _refusal() -> bytes:
    head = [
        f"HTTP/1.1 {HeadTooLarge.status_code} {HeadTooLarge.detail}",
        "content-type: application/json",
        f"content-length: {len(_BODY)}",
        "connection: close",
        f"x-request-id: {request_id_from(None)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + _BODY


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
            self.transport.write(_refusal())
        self.transport.close()
