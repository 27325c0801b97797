"""Idempotency keys in the database: claimed, completed with an answer, released, purged.

A key is claimed by INSERTing its row, alone and at once (autocommit): the unique
constraint on (caller, key) lets exactly one of any number of racing requests have it, on
every backend and across workers and instances, and nobody waits on a lock for it. The
holder then runs its write with one more statement in the same transaction, the UPDATE
that stores its answer (`Claim.complete`); that UPDATE names the claim's `attempt` and must
match, so a write whose claim was taken over meanwhile is rolled back whole.

A claim that was never completed (its worker died, or could not reach the database to
release it) is abandoned once `locked_until` passes, and a key is forgotten once
`expires_at` passes: either may then be taken over by a compare-and-set on `attempt`.
"""

import json
import random
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from app.db import Database, DatabaseUnavailable, Params, Row
from app.db.errors import ConstraintViolation
from app.db.statements import Statement
from app.db.tables import column
from app.kit.idempotency.errors import KeyInFlight, key_reused
from app.kit.idempotency.keys import IdempotencyRequest
from app.kit.idempotency.models import IdempotencyKey

CLAIM_TRIES = 3
"""Claims tried in a row while the key's row vanishes (released or purged) between our
INSERT and our read of it; after that, 409."""
PURGE_CHANCE = 0.02
PURGE_BATCH = 64
"""Expired keys purged after one write in 1/PURGE_CHANCE that claims a key: up to
PURGE_BATCH each time, so each claim may free about 1.3 rows while adding one, and the
table never holds many more keys than IDEMPOTENCY_KEY_TTL's worth, with no cron job."""

_c = IdempotencyKey.__table__.c  # type: ignore[attr-defined]  # SQLModel's table
_id, _caller, _key, _attempt = (column(c) for c in (_c.id, _c.caller, _c.key, _c.attempt))
_status, _expires_at = column(_c.status), column(_c.expires_at)
_TABLE = IdempotencyKey.__table__  # type: ignore[attr-defined]


def _set(*names: str) -> dict[str, Any]:
    return {name: bindparam(f"set_{name}") for name in names}


def _held() -> ColumnElement[bool]:
    """The row of a claim still held by this attempt, its answer not yet stored."""
    return (
        (_id == bindparam("row_id")) & (_attempt == bindparam("held_attempt")) & _status.is_(None)
    )


_FRESH = ("fingerprint", "created_at", "locked_until", "expires_at")
CLAIM = Statement(
    insert(_TABLE).values(_set("caller", "key", *_FRESH) | {"attempt": 1}).returning(_id)
)
FIND = Statement(
    select(
        _id, _c.fingerprint, _attempt, _status, _c.body, _c.headers, _c.locked_until, _expires_at
    ).where((_caller == bindparam("caller")) & (_key == bindparam("key")))
)
TAKE_OVER = Statement(
    update(_TABLE)
    .where((_id == bindparam("row_id")) & (_attempt == bindparam("seen_attempt")))
    .values(
        _set(*_FRESH) | {"attempt": _attempt + 1, "status": None, "body": None, "headers": None}
    )
)
COMPLETE = Statement(
    update(_TABLE)
    .where(_held())
    .values(_set("status", "body", "headers") | {"locked_until": None})
)
RELEASE = Statement(delete(_TABLE).where(_held()))
EXPIRED = Statement(
    select(_id).where(_expires_at < bindparam("now")).order_by(_expires_at).limit(PURGE_BATCH)
)
PURGE = Statement(
    delete(_TABLE).where(
        _id.in_([bindparam(f"id_{slot}") for slot in range(PURGE_BATCH)])
        & (_expires_at < bindparam("now"))
    )
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a write answered, as it is stored and replayed."""

    status: int
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Claim:
    """A key this request holds: its row, and the attempt that holds it."""

    row_id: int
    attempt: int

    def complete(self, answer: Answer) -> Params:
        """The params of COMPLETE, which stores `answer` if the claim is still ours."""
        return self._held() | {
            "set_status": answer.status,
            "set_body": answer.body,
            "set_headers": json.dumps(dict(answer.headers), separators=(",", ":")),
        }

    async def store(self, database: Database, answer: Answer) -> None:
        """Store the answer of a request that wrote nothing (a 404, a 412, an empty
        change), on its own."""
        await database.write(COMPLETE, self.complete(answer))

    async def release(self, database: Database) -> None:
        """Forget the claim of a request whose answer is not stored (a 5xx, a 503), so
        that a retry runs afresh. If the database cannot be reached, the claim is
        abandoned instead and a retry takes it over after `locked_until`."""
        with suppress(DatabaseUnavailable):
            await database.write(RELEASE, self._held())

    def _held(self) -> dict[str, Any]:
        return {"row_id": self.row_id, "held_attempt": self.attempt}


@dataclass(frozen=True, slots=True)
class Terms:
    """How long a claim may run before it counts as abandoned, and a key is kept."""

    lease: float
    ttl: float
    clock: Callable[[], datetime]


async def claim(database: Database, request: IdempotencyRequest, terms: Terms) -> Claim | Answer:
    """This request's claim on its key, or the answer stored for it; KeyReused if the key
    was sent with another request, KeyInFlight while its first request runs."""
    for _ in range(CLAIM_TRIES):
        now = terms.clock()
        fresh = _fresh(request, now, terms)
        try:
            row = await database.write_returning(CLAIM, {"set_caller": request.caller} | fresh)
        except ConstraintViolation as violation:
            if violation.kind != "unique":
                raise
        else:
            assert row is not None  # noqa: S101  # an INSERT ... RETURNING returns its row
            return Claim(row[0], 1)
        found = await database.fetch_one(FIND, {"caller": request.caller, "key": request.key})
        if found is None:
            continue  # released or purged since our INSERT: claim it again
        outcome = _held_by_another(found, request, now)
        if outcome is not None:
            return outcome
        seen = {"row_id": found[0], "seen_attempt": found[2]}
        if await database.write(TAKE_OVER, seen | fresh) == 1:
            return Claim(found[0], found[2] + 1)
    raise KeyInFlight()


def _fresh(request: IdempotencyRequest, now: datetime, terms: Terms) -> dict[str, Any]:
    return {
        "set_key": request.key,
        "set_fingerprint": request.fingerprint,
        "set_created_at": now,
        "set_locked_until": now + timedelta(seconds=terms.lease),
        "set_expires_at": now + timedelta(seconds=terms.ttl),
    }


def _held_by_another(found: Row, request: IdempotencyRequest, now: datetime) -> Answer | None:
    """The stored answer of the key's row, or None if that row may be taken over
    (expired, or an abandoned claim); raises if it is another request's or in flight."""
    _row_id, fingerprint, _attempt, status, body, headers, locked_until, expires_at = found
    if expires_at <= now:
        return None
    if fingerprint != request.fingerprint:
        raise key_reused()
    if status is not None:
        return Answer(status, bytes(body), json.loads(headers))
    if locked_until is not None and locked_until > now:
        raise KeyInFlight()
    return None


async def purge_now_and_then(
    database: Database, now: datetime, chance: Callable[[], float] = random.random
) -> int:
    """Once in a while (PURGE_CHANCE), delete up to PURGE_BATCH expired keys, oldest
    first; the number deleted. Two bounded statements: MariaDB takes no LIMIT in a
    DELETE's subquery, PostgreSQL no LIMIT on DELETE."""
    if chance() >= PURGE_CHANCE:
        return 0
    with suppress(DatabaseUnavailable):  # after the answer: the next purge will do
        return await purge(database, now)
    return 0


async def purge(database: Database, now: datetime) -> int:
    ids = [row[0] for row in await database.fetch_all(EXPIRED, {"now": now})]
    if not ids:
        return 0
    slots = {f"id_{slot}": ids[min(slot, len(ids) - 1)] for slot in range(PURGE_BATCH)}
    return await database.write(PURGE, slots | {"now": now})
