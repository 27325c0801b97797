"""The Idempotency-Key header: read and checked, and what makes two requests "the same".

Read from the request, not declared as a FastAPI parameter: each parameter FastAPI
resolves costs about 8 µs a request (bench/PROFILE.md), and a write without the header
must cost what it did before. Routes declare it to OpenAPI with `KEY_HEADER`.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from app.http.conditional import DeclaredHeader
from app.http.json_body import parse_json_body
from app.kit.idempotency.errors import InvalidIdempotencyKey, MissingIdempotencyKey
from app.kit.idempotency.models import KEY_MAX_LENGTH

HEADER = "idempotency-key"
# Printable ASCII (space to tilde), not starting or ending with a space, which HTTP
# parsers strip; the IETF draft's quoted form (an sf-string, "...") is read as its content.
_KEY = re.compile(rf"[!-~](?:[ -~]{{0,{KEY_MAX_LENGTH - 2}}}[!-~])?")
_QUOTED = re.compile(rf'"([ !#-\[\]-~]{{1,{KEY_MAX_LENGTH}}})"')
KEY_PATTERN = r'^(?!""$)[!-~](?:[ -~]*[!-~])?$'
"""The key as OpenAPI declares it (with maxLength 255)."""

KEY_HEADER = DeclaredHeader(
    "Idempotency-Key",
    "A key unique to this request, 1 to 255 printable ASCII characters (a UUID, say). "
    "Retrying with the same key, method, path and body answers what the first request "
    "answered (with `Idempotent-Replayed: true`) and writes nothing twice; the same key "
    "with another request is 422, and while the first request still runs, 409 with "
    "`Retry-After`. Keys are kept IDEMPOTENCY_KEY_TTL seconds (a day by default).",
    "9b2f6c1e-4d7a-4f0e-8c4b-1f2a3b4c5d6e",
    max_length=KEY_MAX_LENGTH,
    pattern=KEY_PATTERN,
)


@dataclass(frozen=True, slots=True)
class IdempotencyRequest:
    """Who sent which key, for what request."""

    caller: str
    key: str
    fingerprint: str


def caller_of(request: Request) -> str:
    """Whose keys a request's key is among: until users exist, everyone's ("": anyone
    holding the key may replay its answer). Once requests are signed in, this returns the
    user's id, so that one user's key never replays another's answer."""
    del request
    return ""


def idempotency_key(request: Request, *, required: bool = False) -> str | None:
    """The request's key, None without one; InvalidIdempotencyKey for one that is empty,
    too long, not printable ASCII, or sent twice; MissingIdempotencyKey if `required` and
    none was sent."""
    values = request.headers.getlist(HEADER)
    if not values:
        if required:
            raise MissingIdempotencyKey()
        return None
    if len(values) > 1:
        raise InvalidIdempotencyKey()
    value = values[0]
    quoted = _QUOTED.fullmatch(value)
    if quoted:
        return quoted.group(1)
    if not _KEY.fullmatch(value) or value == '""':  # the quoted form of nothing
        raise InvalidIdempotencyKey()
    return value


async def idempotency_request(
    request: Request, *, required: bool = False
) -> IdempotencyRequest | None:
    """The key and what it must be sent with again, or None without a key."""
    key = idempotency_key(request, required=required)
    if key is None:
        return None
    return IdempotencyRequest(caller_of(request), key, await fingerprint(request))


async def fingerprint(request: Request) -> str:
    """SHA-256 of the method, the path and the body's JSON in a canonical form (keys
    sorted, no white space), so that key order and spacing make no difference; a body
    that is not JSON counts by its bytes."""
    body = await request.body()
    try:
        canonical = _canonical(parse_json_body(body)) if body else b""
    except ValueError:
        canonical = body
    digest = hashlib.sha256(f"{request.method} {request.scope['path']}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
