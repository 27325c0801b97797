"""Opaque cursors for keyset paging: where a page starts, signed so that it cannot be edited.

A cursor is base64url (no padding) of a JSON payload, a `.`, and base64url of the first 16
bytes of the payload's HMAC-SHA256, made and checked by itsdangerous' `Signer`. The
payload holds the boundary row's sort-key values, which way the page goes from it, and a
fingerprint of the sort and filters the cursor was made for, so that a cursor handed to
another query is refused rather than misread.

The key is CURSOR_SECRET. Without it, a fixed key built into the service: every worker
and instance then agrees with no set-up, and a cursor survives a restart. The MAC still
catches a damaged or edited cursor, but a client who reads this code could forge one;
that is harmless, since a cursor only says where a page starts, in values a client may
send as filters anyway, and every value is checked and bound as a parameter. Set
CURSOR_SECRET (the same on every instance) so that only the service can make cursors.

Two settings are not itsdangerous' defaults, for measured reasons (bench/PROFILE.md,
2026-12-02, `python bench/cursors.py`): the key is derived once, with its own `hmac`
derivation, rather than again on every call (1.4-1.5 µs an operation), and the MAC is cut
to 16 bytes, which keeps a token 21 characters shorter than a whole SHA-256 (a page's
`Link` header carries two).
"""

import hashlib
import hmac
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from itsdangerous import BadData, BadSignature, Signer
from itsdangerous.encoding import base64_decode, base64_encode
from itsdangerous.signer import HMACAlgorithm

VERSION = 1
MAC_SIZE = 16
FINGERPRINT_SIZE = 8
SALT = "heroes cursor v1"
_DEFAULT_SECRET = "heroes-cursor-key-when-CURSOR_SECRET-is-unset"  # noqa: S105  # see above
MAX_TOKEN_LENGTH = 2048  # a boundary row's values (names are at most 255 characters)
_TOKEN_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


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


class TruncatedHMAC(HMACAlgorithm):
    """HMAC-SHA256 cut to its first MAC_SIZE bytes (128 bits, as RFC 2104 allows)."""

    def __init__(self) -> None:
        super().__init__(hashlib.sha256)

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.new(key, value, self.digest_method).digest()[:MAC_SIZE]


class CursorCodec:
    def __init__(self, secret: str | None) -> None:
        secret = secret or _DEFAULT_SECRET
        # itsdangerous' `hmac` derivation, once: `Signer` would derive the key on every call
        deriving = Signer(secret, salt=SALT, key_derivation="hmac", digest_method=hashlib.sha256)
        key = deriving.derive_key()
        self._signer = Signer(key, key_derivation="none", algorithm=TruncatedHMAC())

    def encode(self, cursor: Cursor, made_for: bytes) -> str:
        flags = [cursor.before, cursor.inclusive]
        payload = orjson.dumps([VERSION, made_for.hex(), *flags, list(cursor.values)])
        return self._signer.sign(base64_encode(payload)).decode()

    def decode(self, token: str, made_for: bytes) -> Cursor:
        payload = self._verified(token)
        try:
            version, digest, before, inclusive, values = orjson.loads(base64_decode(payload))
        except (BadData, orjson.JSONDecodeError, TypeError, ValueError):
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
            return self._signer.unsign(token)
        except BadSignature:
            if not set(token) <= _TOKEN_CHARACTERS:
                raise CursorError("not base64url") from None
            raise CursorError(
                "damaged or changed: use a cursor from a Link header as it is"
            ) from None


def _is_bool(value: object) -> bool:
    return type(value) is bool


@cache
def codec(secret: str | None) -> CursorCodec:
    return CursorCodec(secret)
