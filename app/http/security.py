"""Security headers on every response, as pure ASGI."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Same-origin everything; nothing may frame the service.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
SECURITY_HEADERS = [*_ALWAYS, (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())]
"""What every answer but the docs pages carries."""


class SecurityHeadersMiddleware:
    """Add the headers; leave the CSP off `unrestricted` paths (FastAPI's docs pages run an
    inline script that a 'self' policy would block)."""

    def __init__(self, app: ASGIApp, unrestricted: frozenset[str]) -> None:
        self.app = app
        self.unrestricted = unrestricted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _ALWAYS if scope["path"] in self.unrestricted else SECURITY_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
