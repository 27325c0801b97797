"""Only the hosts ALLOWED_HOSTS names reach the app: the service writes the request's host
into `Location`, `Link` and redirects, so a foreign Host header would be reflected there.

Starlette's TrustedHostMiddleware does this but answers in plain text; this is the same
check (exact names, `*.example.com` for subdomains, `*` for any) with the JSON error.
"""

import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.errors import HostNotAllowed, error_response

# A DNS name or an IPv6 literal, then an optional port: nothing else may pass, so that no
# `user@`, path or second host rides in behind an allowed name ("a.example.com@evil.com").
_HOST = re.compile(
    r"(?P<name>(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
    r"|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?"
)


def host_of(scope: Scope) -> str:
    """The Host header's name without its port, lower-cased; empty when there is none or
    it is not a host name (or IPv6 literal) with an optional port."""
    for name, value in scope["headers"]:
        if name == b"host":
            matched = _HOST.fullmatch(value.decode("latin-1").lower())
            return matched.group("name") if matched else ""
    return ""


class AllowedHosts:
    """The list of names and wildcards a request's Host must match (or `*`: any)."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.any = "*" in patterns
        self.names = frozenset(name for name in patterns if not name.startswith("*"))
        self.suffixes = tuple(name[1:] for name in patterns if name.startswith("*."))

    def allow(self, host: str) -> bool:
        return self.any or host in self.names or (bool(host) and host.endswith(self.suffixes))


class AllowedHostsMiddleware:
    def __init__(self, app: ASGIApp, allowed: Sequence[str]) -> None:
        self.app = app
        self.allowed = AllowedHosts(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.allowed.allow(host_of(scope)):
            await error_response(HostNotAllowed)(scope, receive, send)
            return
        await self.app(scope, receive, send)
