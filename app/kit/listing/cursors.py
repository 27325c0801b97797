"""Opaque cursors for keyset paging: where a page starts, signed so that it cannot be edited.

A cursor is base64url (no padding) of a JSON payload and the first 16 bytes of its
HMAC-SHA256. The payload holds the boundary row's sort-key values, which way the page
goes from it, and a fingerprint of the sort and filters the cursor was made for, so that a
cursor handed to another query is refused rather than misread.

The key is CURSOR_SECRET. Without it, a fixed key built into the service: every worker
and instance then agrees with no set-up, and a cursor survives a restart. The MAC still
catches a damaged or edited cursor, but a client who reads this code could forge one;
that is harmless, since a cursor only says where a page starts, in values a client may
send as filters anyway, and every value is checked and bound as a parameter. Set
CURSOR_SECRET (the same on every instance) so that only the service can make cursors.
"""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

VERSION = 1
MAC_SIZE = 16
FINGERPRINT_SIZE = 8
_DEFAULT_SECRET = "heroes-cursor-key-when-CURSOR_SECRET-is-unset"  # noqa: S105  # see above
MAX_TOKEN_LENGTH = 2048  # a boundary row's values (names are at most 255 characters)


class CursorError(ValueError):
    """A cursor that this service did not make for this query; the message says why."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """A page's place: just after the boundary row, or (`before`) just before it.

    `inclusive` pages take the boundary row too: they are the links of an empty page,
    whose neighbour starts at the row the empty page started from.
    """

    values: tuple[Any, ...]
    before: bool = False
    inclusive: bool = False


def fingerprint(description: object) -> bytes:
    """A short digest of what a cursor is for (the sort and filters, as plain data)."""
    return hashlib.sha256(orjson.dumps(description)).digest()[:FINGERPRINT_SIZE]


class CursorCodec:
    def __init__(self, secret: str | None) -> None:
        self._key = hashlib.sha256(
            f"heroes cursor v1:{secret or _DEFAULT_SECRET}".encode()
        ).digest()

    def encode(self, cursor: Cursor, made_for: bytes) -> str:
        flags = [cursor.before, cursor.inclusive]
        payload = orjson.dumps([VERSION, made_for.hex(), *flags, list(cursor.values)])
        token = base64.urlsafe_b64encode(payload + self._mac(payload))
        return token.rstrip(b"=").decode()

    def decode(self, token: str, made_for: bytes) -> Cursor:
        payload = self._verified(token)
        try:
            version, digest, before, inclusive, values = orjson.loads(payload)
        except (orjson.JSONDecodeError, TypeError, ValueError):
            raise CursorError("not a cursor of this service") from None
        flags = (before, inclusive)
        if version != VERSION or not isinstance(values, list) or not all(map(_is_bool, flags)):
            raise CursorError("not a cursor of this service")
        if digest != made_for.hex():
            raise CursorError("made for another sort or other filters: keep those as they were")
        return Cursor(tuple(values), before=before, inclusive=inclusive)

    def _verified(self, token: str) -> bytes:
        if len(token) > MAX_TOKEN_LENGTH:
            raise CursorError("not a cursor of this service")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise CursorError("not base64url") from None
        payload, mac = raw[:-MAC_SIZE], raw[-MAC_SIZE:]
        if len(raw) <= MAC_SIZE or not hmac.compare_digest(mac, self._mac(payload)):
            raise CursorError("damaged or changed: use a cursor from a Link header as it is")
        return payload

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:MAC_SIZE]


def _is_bool(value: object) -> bool:
    return type(value) is bool


@cache
def codec(secret: str | None) -> CursorCodec:
    return CursorCodec(secret)
