"""What a write with an Idempotency-Key can be refused with, before or instead of running."""

from fastapi.exceptions import RequestValidationError

from app.http.errors import HttpError, InvalidInput


class InvalidIdempotencyKey(HttpError):
    status_code = 400
    detail = "Idempotency-Key must be 1 to 255 printable ASCII characters, sent once"


class MissingIdempotencyKey(HttpError):
    """The deployment requires a key on every POST (REQUIRE_IDEMPOTENCY_KEY)."""

    status_code = 400
    detail = "Idempotency-Key required: send a unique key with every POST"


class KeyInFlight(HttpError):
    """The key's first request is still running (or its claim was taken over): retry
    shortly, and get its answer. Never stored."""

    status_code = 409
    detail = "A request with this Idempotency-Key is still running: retry shortly"
    retry_after = "1"


REUSED = {
    "type": "idempotency_key_reused",
    "loc": ["header", "Idempotency-Key"],
    "msg": (
        "This key was sent with another request (method, path or body): send a new key "
        "for a new request"
    ),
}


class KeyReused(InvalidInput):
    """The key was first sent with another method, path or body: a 422 in the shape of
    every other one (declared with this example)."""

    detail = "The Idempotency-Key was sent with another request (method, path or body)"
    problems = (REUSED,)


def key_reused() -> RequestValidationError:
    """KeyReused as the service raises it: rendered as every other 422."""
    return RequestValidationError([{**REUSED, "input": None}])
