"""A write's origin as its request tells it: who, the request's id, its Idempotency-Key."""

from fastapi import Request

from app.kit.changes.log import Origin
from app.kit.idempotency.errors import InvalidIdempotencyKey
from app.kit.idempotency.keys import idempotency_key
from app.observability.context import REQUEST_ID


def origin_of(request: Request, actor: int | None) -> Origin:
    """`actor`: the signed-in user who writes, if any. Only a well-formed key is recorded:
    routes that honour keys refuse the others themselves."""
    try:
        key = idempotency_key(request)
    except InvalidIdempotencyKey:
        key = None
    return Origin(actor, REQUEST_ID.get(), key)
