"""What signing the list's paging cursors costs: the service's codec beside the alternatives.

    .venv/bin/python bench/cursors.py                     # µs per encode and per decode
    .venv/bin/python bench/cursors.py --rounds 9 --count 20000

Each codec encodes, then decodes, the same realistic cursors: the boundary values of the
list's sorts (`id`; `name,id`; `-age,name,id`), that is 1-3 values among ids, names of
20-60 characters and null ages, bound to a query's fingerprint. The codecs:

- `hand-written`: the service's codec until 2026-12-02 (base64url of the JSON payload and
  16 bytes of its HMAC-SHA256, by hand), kept here as the baseline;
- `service`: `app.kit.listing.cursors.CursorCodec`, whatever it is now;
- `Signer, key per call`: the same, but letting itsdangerous derive the key on every call,
  as `Signer` does unless the key is derived once;
- `URLSafeSerializer`: itsdangerous' serializer, orjson inside, HMAC-SHA256 whole.

All of them keep the service's checks (fingerprint, flags, version). The rounds take
turns, codec after codec, in one process; the figure is CPU time (`time.process_time`)
per operation, the least and the median of the rounds, and the ratio of the least to the
hand-written codec's. The tokens' lengths follow, since URLs carry them.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import random
import statistics
import time
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from itsdangerous import Signer, URLSafeSerializer

from app.kit.listing.cursors import (
    MAC_SIZE,
    MAX_TOKEN_LENGTH,
    SALT,
    VERSION,
    Cursor,
    CursorCodec,
    CursorError,
    TruncatedHMAC,
    fingerprint,
)

SECRET = "a cursor secret of 32 characters"  # noqa: S105  # a benchmark's key


class Codec(Protocol):
    def encode(self, cursor: Cursor, made_for: bytes) -> str: ...
    def decode(self, token: str, made_for: bytes) -> Cursor: ...


class HandWrittenCodec:
    """The service's codec until 2026-12-02, as it was (`app/heroes/cursors.py`)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(f"heroes cursor v1:{secret}".encode()).digest()

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


class KeyPerCallCodec(CursorCodec):
    """The service's codec with itsdangerous deriving the key on every call."""

    def __init__(self, secret: str) -> None:
        super().__init__(secret)
        self._signer = Signer(
            secret,
            salt=SALT,
            key_derivation="hmac",
            digest_method=hashlib.sha256,
            algorithm=TruncatedHMAC(),
        )


class OrjsonSerializer:
    """orjson as itsdangerous' serializer."""

    @staticmethod
    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

    @staticmethod
    def loads(data: bytes) -> Any:
        return orjson.loads(data)


class SerializerCodec:
    """itsdangerous' URLSafeSerializer (tries zlib, builds a Signer per call)."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(
            secret,
            salt=SALT,
            serializer=OrjsonSerializer,
            signer_kwargs={"digest_method": hashlib.sha256, "key_derivation": "hmac"},
        )

    def encode(self, cursor: Cursor, made_for: bytes) -> str:
        flags = [cursor.before, cursor.inclusive]
        payload = [VERSION, made_for.hex(), *flags, list(cursor.values)]
        token: str | bytes = self._serializer.dumps(payload)  # bytes: orjson writes bytes
        return token.decode() if isinstance(token, bytes) else token

    def decode(self, token: str, made_for: bytes) -> Cursor:
        return _checked(self._serializer.loads(token), made_for)


def _checked(payload: Any, made_for: bytes) -> Cursor:
    """The service's checks of a verified payload (`CursorCodec.decode`)."""
    version, digest, before, inclusive, values = payload
    flags = (before, inclusive)
    if version != VERSION or not isinstance(values, list) or not all(map(_is_bool, flags)):
        raise CursorError("not a cursor of this service")
    if digest != made_for.hex():
        raise CursorError("made for another sort or other filters: keep those as they were")
    return Cursor(tuple(values), before=before, inclusive=inclusive)


def _is_bool(value: object) -> bool:
    return type(value) is bool


CODECS: dict[str, Callable[[str], Codec]] = {
    "hand-written": HandWrittenCodec,
    "service": CursorCodec,
    "Signer, key per call": KeyPerCallCodec,
    "URLSafeSerializer": SerializerCodec,
}


def realistic_cursors(count: int) -> list[Cursor]:
    """Boundary values of the list's sorts: (id,), (name, id), (age or null, name, id)."""
    rng = random.Random(2026)
    cursors = []
    for n in range(count):
        hero_id = rng.randrange(1, 1_000_000)
        name = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz -", k=rng.randrange(20, 61)))
        age = rng.choice([None, rng.randrange(0, 120)])
        values: tuple[object, ...] = ((hero_id,), (name, hero_id), (age, name, hero_id))[n % 3]
        cursors.append(Cursor(values, before=n % 2 == 1))
    return cursors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=10_000, help="operations per round")
    args = parser.parse_args()
    cursors = realistic_cursors(30)
    made_for = fingerprint([[["name", False], ["id", False]], [None, None, 18, None, None]])
    codecs = {name: make(SECRET) for name, make in CODECS.items()}
    for name, codec in codecs.items():  # each keeps the guarantees it is measured with
        tokens = [codec.encode(cursor, made_for) for cursor in cursors]
        assert [codec.decode(token, made_for) for token in tokens] == cursors, name
    timings = _interleaved(codecs, cursors, made_for, args)
    _report(codecs, timings, cursors, made_for, args)


Timings = dict[str, dict[str, list[float]]]  # codec -> operation -> µs per round


def _interleaved(
    codecs: dict[str, Codec], cursors: list[Cursor], made_for: bytes, args: argparse.Namespace
) -> Timings:
    timings: Timings = {name: {"encode": [], "decode": []} for name in codecs}
    repeats = max(1, args.count // len(cursors))
    for _ in range(args.rounds):
        for name, codec in codecs.items():
            tokens = [codec.encode(cursor, made_for) for cursor in cursors]
            started = time.process_time()
            for _ in range(repeats):
                for cursor in cursors:
                    codec.encode(cursor, made_for)
            encoded = time.process_time()
            for _ in range(repeats):
                for token in tokens:
                    codec.decode(token, made_for)
            decoded = time.process_time()
            per_operation = 1e6 / (repeats * len(cursors))
            timings[name]["encode"].append((encoded - started) * per_operation)
            timings[name]["decode"].append((decoded - encoded) * per_operation)
    return timings


def _report(
    codecs: dict[str, Codec],
    timings: Timings,
    cursors: list[Cursor],
    made_for: bytes,
    args: argparse.Namespace,
) -> None:
    base = timings["hand-written"]
    print(f"CPU µs per operation, least / median of {args.rounds} rounds of {args.count}:")
    print(f"  {'codec':<22} {'encode':>13} {'ratio':>6} {'decode':>13} {'ratio':>6} {'page':>6}")
    for name, figures in timings.items():
        encode, decode = min(figures["encode"]), min(figures["decode"])
        # a page by cursor decodes its cursor and encodes up to two (next, prev)
        page = 2 * (encode - min(base["encode"])) + decode - min(base["decode"])
        print(
            f"  {name:<22} {encode:5.2f} / {statistics.median(figures['encode']):5.2f}"
            f" {encode / min(base['encode']):5.2f}x"
            f" {decode:5.2f} / {statistics.median(figures['decode']):5.2f}"
            f" {decode / min(base['decode']):5.2f}x {page:+5.1f}"
        )
    print("  (page: µs more than the hand-written codec for 1 decode + 2 encodes)")
    print("token length in characters, by number of values (mean), and the longest:")
    for name, codec in codecs.items():
        lengths: dict[int, list[int]] = {}
        for cursor in cursors:
            lengths.setdefault(len(cursor.values), []).append(len(codec.encode(cursor, made_for)))
        means = ", ".join(f"{n}: {statistics.mean(lengths[n]):.0f}" for n in sorted(lengths))
        longest = max(max(found) for found in lengths.values())
        print(f"  {name:<22} {means}; longest {longest}")


if __name__ == "__main__":
    main()
