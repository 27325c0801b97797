"""A start-up that fails on purpose says why in one line.

Checks that need the database (is the schema the one this code needs?) run in the
lifespan. When one refuses, Starlette reports the failure to the server with the whole
traceback, which uvicorn logs; this middleware hands it the refusal's one line instead.
"""

import sys

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.schema import SchemaError


class OneLineStartupFailure:
    """Outermost middleware: rewrites `lifespan.startup.failed` for a SchemaError."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_one_line(message: Message) -> None:
            # Sent from inside the handler of the failure: the error is the one handled.
            error = sys.exception()
            if message["type"] == "lifespan.startup.failed" and isinstance(error, SchemaError):
                message = {**message, "message": f"heroes: {error}"}
            await send(message)

        await self.app(scope, receive, send_one_line)
