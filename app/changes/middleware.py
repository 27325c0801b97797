"""Where "a write committed" is seen: a write to a watched resource that was answered
with success. Every service commits its transaction before its route answers, so a 2xx
or 3xx to POST, PUT, PATCH or DELETE under `prefixes` follows a commit (an answer
replayed for an Idempotency-Key too, which asks for nothing new: harmless). Seen here,
after the answer, the sequencer is asked to number the write's changes soon, which then
wakes followers: it never runs inside a transaction and never holds up the answer."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.changes.sequencer import Sequencer

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NumberWrittenChanges:
    def __init__(self, app: ASGIApp, sequencer: Sequencer, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.sequencer = sequencer
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITES
            or not scope["path"].startswith(self.prefixes)
        ):
            await self.app(scope, receive, send)
            return
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_noting_status)
        if 200 <= status < 400:  # a success: the write committed
            self.sequencer.nudge()
