"""A write a client may retry safely: run once per Idempotency-Key, its answer replayed.

`respond_once` is the whole of it for a route: without the header the write runs as it
always did (no statement more, bench/PROFILE.md); with it, the key is claimed
(app/kit/idempotency/store.py), the write runs with the UPDATE that stores its answer in
its transaction, and a retry gets that answer back, byte for byte, with
`Idempotent-Replayed: true`.

What is stored: the status, the body, and the headers that describe the result (`ETag`,
`Last-Modified`, `Location`, and the `Cache-Control` that goes with an ETag), for a
success and for a 4xx the write itself answered (404, 412, a constraint's refusal). Not
stored, so that a retry runs again: 409 for a key in flight, and any 5xx (a 503 included).
Answers given before the key is read (a malformed or invalid body, 413, 428) change
nothing, depend only on the request, and are not stored either.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from fastapi import Request, Response
from starlette.background import BackgroundTask

from app.db import Database, Params, Row
from app.db.tables import utc_now
from app.http.dependencies import HttpOptions
from app.http.errors import answer_for, declare, error_kind, error_response
from app.kit.idempotency.errors import (
    InvalidIdempotencyKey,
    KeyInFlight,
    KeyReused,
    MissingIdempotencyKey,
)
from app.kit.idempotency.keys import KEY_HEADER, idempotency_request
from app.kit.idempotency.store import COMPLETE, Answer, Claim, Terms, claim, purge_now_and_then
from app.kit.rows import Also, AlsoMissed
from app.observability.context import mark_error_kind

T = TypeVar("T")
Write = Callable[[Sequence[Also]], Awaitable[T]]
"""A service call that runs its write with these steps in the write's transaction."""

REPLAYED = "Idempotent-Replayed"
STORED_HEADERS = frozenset({"etag", "last-modified", "location", "cache-control"})


def clock() -> datetime:
    """The time keys are claimed and expire by (tests move it)."""
    return utc_now()


@dataclass(frozen=True, slots=True)
class Once(Generic[T]):
    """What a route hands `respond_once`: its write, how the written record is answered,
    and how the written row reads as that record (the answer is made from the row in
    the write's transaction)."""

    write: Write[T]
    respond: Callable[[T], Response]
    record: Callable[[Row], T]


async def respond_once(
    request: Request, options: HttpOptions, database: Database, once: Once[T]
) -> Response:
    """`respond(await write(()))`, once per Idempotency-Key. A POST without a key is 400
    when the deployment requires one."""
    required = options.require_idempotency_key and request.method == "POST"
    idempotent = await idempotency_request(request, required=required)
    if idempotent is None:
        return once.respond(await once.write(()))
    terms = Terms(options.idempotency_lease, options.idempotency_key_ttl, clock)
    held = await claim(database, idempotent, terms)
    if isinstance(held, Answer):
        return replayed(held)
    response = await _first_run(request, database, held, once)
    # After the answer is sent: the client never waits for the purge.
    response.background = BackgroundTask(purge_now_and_then, database, terms.clock())
    return response


async def _first_run(request: Request, database: Database, held: Claim, once: Once[T]) -> Response:
    made: list[Response] = []

    def completion(_before: Row | None, after: Row | None) -> Params | None:
        if after is None:
            return None
        made[:] = [once.respond(once.record(after))]
        return held.complete(answer_of(made[0]))

    try:
        written = await once.write([Also(COMPLETE, completion, required=True)])
    except AlsoMissed:
        # The claim was taken over (abandoned past its lease): nothing was kept, and the
        # request that holds the key now answers it.
        raise KeyInFlight() from None
    except Exception as error:
        return await _settle_failure(request, database, held, error)
    if made:
        return made[0]
    # The write changed nothing (an empty PATCH): its answer is stored on its own.
    response = once.respond(written)
    await held.store(database, answer_of(response))
    return response


async def _settle_failure(
    request: Request, database: Database, held: Claim, error: Exception
) -> Response:
    """A 4xx the write answered is stored like a success; anything else releases the
    claim, so that a retry runs again, and goes on to its handler."""
    status = answer_for(type(error)).status_code
    if not 400 <= status < 500:
        await held.release(database)
        raise error
    response = error_response(error)
    await held.store(database, answer_of(response))
    mark_error_kind(request.scope, error_kind(error))
    return response


def answer_of(response: Response) -> Answer:
    kept = {name: value for name, value in response.headers.items() if name in STORED_HEADERS}
    return Answer(response.status_code, bytes(response.body), kept)


def replayed(answer: Answer) -> Response:
    headers = dict(answer.headers) | {REPLAYED: "true"}
    return Response(answer.body, answer.status, headers, media_type="application/json")


# --- OpenAPI -----------------------------------------------------------------------------

_REPLAYED_HEADER = {
    REPLAYED: {
        "description": "`true` on an answer replayed for a retried Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def idempotent_operation(operation: dict[str, Any]) -> dict[str, Any]:
    """A write route's declarations (`responses`, `openapi_extra`...) with the
    Idempotency-Key header and what it can answer: 400, 409 and 422."""
    responses = dict(operation["responses"])
    for status, entry in list(responses.items()):
        if isinstance(status, int) and status < 300:
            headers = entry.get("headers", {}) | _REPLAYED_HEADER
            responses[status] = entry | {"headers": headers}
    _merge(responses, InvalidIdempotencyKey, MissingIdempotencyKey)
    _merge(responses, KeyInFlight)
    _merge(responses, KeyReused)
    extra = dict(operation.get("openapi_extra", {}))
    extra["parameters"] = [*extra.get("parameters", []), KEY_HEADER.parameter()]
    return operation | {"responses": responses, "openapi_extra": extra}


def _merge(responses: dict[Any, Any], *errors: type[Exception]) -> None:
    """Declare `errors`: a status declared already keeps its schema and example, and its
    description names them too."""
    for error in errors:
        ((status, declared),) = declare(error).items()
        entry = responses.get(status)
        if entry is None:
            responses[status] = declared
        elif declared["description"] not in entry["description"]:
            description = f"{entry['description']}; or {declared['description']}"
            headers = entry.get("headers", {}) | declared.get("headers", {})
            responses[status] = (
                entry | {"description": description} | ({"headers": headers} if headers else {})
            )
