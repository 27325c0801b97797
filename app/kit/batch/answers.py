"""A batch's answer, and how the batch routes declare it.

200 `{"results": [...]}`, one result per item in order: `{"status": 200, "id", "version",
"etag"}` for an item written (a create too: 200, as POST answers), or `{"status", "detail"}`
with what a request of that item alone would have answered (404, 403, 409, 412 with the
row's current `etag`, 422 with its problems, 428). An atomic batch that could not be
written whole answers `{"detail": [...]}`, a problem for each item that failed, located
by its index (`["body", "items", 3, "version"]`): 412 when every one is a version that
moved, 409 when every one is a conflict, 403 when every one is another user's row, 428
when every one lacks its version; else 422.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from fastapi import Request, Response
from pydantic import BaseModel, Field

from app.db import Database, Row
from app.errors import (
    Conflict,
    MissingReference,
    NotFound,
    NotOwner,
    PreconditionFailed,
    Unauthenticated,
)
from app.http.conditional import entity_tag
from app.http.dependencies import HttpOptions
from app.http.docs import SIGNED_IN_IF_POLICY
from app.http.errors import (
    BodyTooLarge,
    InvalidBody,
    InvalidProblem,
    MalformedBody,
    RequestTimedOut,
    SafeJSONResponse,
    declare,
    described,
)
from app.http.responses import ANSWER_CONFIG, FastJSONResponse
from app.kit.batch.items import Failed, InvalidItem, VersionRequired
from app.kit.batch.writes import Outcome, Written
from app.kit.idempotency.writes import Once, respond_once
from app.kit.rows import Also


class ItemWritten(BaseModel):
    """An item written: the row it created or changed, as it is now."""

    model_config = ANSWER_CONFIG

    status: int = Field(description="200: written (created or changed).", examples=[200])
    id: int = Field(description="The row's id.", examples=[1])
    version: int = Field(description="The row's version now (its ETag names it).", examples=[1])
    etag: str = Field(
        description="The row's ETag now: send its version with a later change.",
        examples=['"1.1"'],
    )


class ItemRefused(BaseModel):
    """An item not written, and why: what a request of it alone would have answered."""

    status: int = Field(
        description="403, 404, 409, 412, 422 or 428, as a request of this item alone.",
        examples=[412],
    )
    detail: str | list[InvalidProblem] = Field(
        description="Why, as that request's body says it: a text, or (422) each problem.",
        examples=["Precondition Failed: the row is no longer at the version sent"],
    )
    etag: str | None = Field(
        default=None, description="With 412: the row's current ETag.", examples=['"1.2"']
    )


class BatchResults(BaseModel):
    model_config = ANSWER_CONFIG

    results: list[ItemWritten | ItemRefused] = Field(
        description="One result per item, in the items' order."
    )


class Batch(Protocol):
    """A batch request's body, as its resource's model reads it."""

    @property
    def atomic(self) -> bool: ...
    @property
    def items(self) -> Sequence[object]: ...


Write = Callable[[Sequence[Also]], Awaitable[Outcome]]


async def respond_batch(
    request: Request, options: HttpOptions, database: Database, batch: Batch, write: Write
) -> Response:
    """The batch's answer, once per Idempotency-Key. An atomic batch with an invalid item
    is refused before the key is read, as an invalid body is: it changed nothing."""
    if batch.atomic and any(isinstance(item, InvalidItem) for item in batch.items):
        refused = [Failed(item) if isinstance(item, InvalidItem) else None for item in batch.items]
        return batch_response(Outcome(tuple(refused), kept=False))
    return await respond_once(request, options, database, Once(write, batch_response, _outcome))


def _outcome(row: Row) -> Outcome:
    """The outcome a batch hands its `also` steps (app/kit/batch/writes.py)."""
    outcome: Outcome = row[0]
    return outcome


def batch_response(outcome: Outcome) -> Response:
    if not outcome.kept:
        return _refusal(outcome)
    results = [_result(index, each) for index, each in enumerate(outcome.results)]
    return FastJSONResponse({"results": results})


def _result(index: int, result: Written | Failed | None) -> dict[str, Any]:
    if isinstance(result, Written):
        row_id, version = result.row[0], result.row[-1]
        return {
            "status": 200,
            "id": row_id,
            "version": version,
            "etag": entity_tag(row_id, version),
        }
    assert result is not None  # noqa: S101  # a kept batch has a result for every item
    error = result.error
    if isinstance(error, InvalidItem | MissingReference):
        return {"status": 422, "detail": _problems(index, error)}
    status, _kind, _field, message = _failure(error)
    refused: dict[str, Any] = {"status": status, "detail": message}
    if isinstance(error, PreconditionFailed):
        refused["etag"] = entity_tag(error.row_id, error.version)
    return refused


def _refusal(outcome: Outcome) -> Response:
    failed = [
        (index, each.error)
        for index, each in enumerate(outcome.results)
        if isinstance(each, Failed)
    ]
    statuses = {_status(error) for _index, error in failed}
    status = statuses.pop() if len(statuses) == 1 else 422
    status = status if status in _WHOLE else 422
    problems = [problem for index, error in failed for problem in _problems(index, error)]
    return SafeJSONResponse({"detail": problems}, status_code=status)


_WHOLE = frozenset({403, 409, 412, 428})
"""The statuses an atomic batch's refusal takes when every failed item has it."""


def _status(error: Exception) -> int:
    if isinstance(error, InvalidItem | MissingReference):
        return 422
    return _failure(error)[0]


def _problems(index: int, error: Exception) -> list[dict[str, Any]]:
    """What failed in the item at `index`, located within the request's body."""
    at: list[str | int] = ["body", "items", index]
    if isinstance(error, InvalidItem):
        return described({**each, "loc": (*at, *each["loc"])} for each in error.errors)
    if isinstance(error, MissingReference):
        return [{"type": "missing_reference", "loc": [*at, error.field], "msg": error.message}]
    _status_code, kind, field, message = _failure(error)
    problem: dict[str, Any] = {
        "type": kind,
        "loc": at + ([field] if field else []),
        "msg": message,
    }
    if isinstance(error, PreconditionFailed):
        problem["ctx"] = {
            "version": error.version,
            "etag": entity_tag(error.row_id, error.version),
        }
    return [problem]


_MOVED = "Precondition Failed: the row is no longer at the version sent"
_UNVERSIONED = "Precondition Required: send the version of the row you change"


def _failure(error: Exception) -> tuple[int, str, str | None, str]:
    """A failed item's status, the problem's type, the field at fault, and the message."""
    if isinstance(error, PreconditionFailed):
        return 412, "version_mismatch", "version", _MOVED
    if isinstance(error, VersionRequired):
        return 428, "version_required", "version", _UNVERSIONED
    if isinstance(error, NotFound):
        return 404, "not_found", "id", error.detail
    if isinstance(error, NotOwner):
        return 403, "not_owner", "id", error.detail
    if isinstance(error, Conflict):
        return 409, "conflict", None, error.detail
    raise error  # not an item's failure: the request's own


# --- OpenAPI -----------------------------------------------------------------------------


def batch_route(singular: str, plural: str) -> dict[str, Any]:
    """A batch route's declarations for the router's decorator (before
    `idempotent_operation`): what it answers, with examples."""
    at = ["body", "items", 0]
    refusals = {
        422: (
            f"A bad item in an atomic batch (an invalid one, a {singular} that does not "
            "exist, a reference to a missing row, or mixed failures): each is named",
            [
                {
                    "type": "string_too_short",
                    "loc": [*at, "name"],
                    "msg": "String should have at least 1 character",
                    "ctx": {"min_length": 1},
                }
            ],
        ),
        412: (
            "Every failed item of an atomic batch expected another version",
            [
                {
                    "type": "version_mismatch",
                    "loc": [*at, "version"],
                    "msg": _MOVED,
                    "ctx": {"version": 2, "etag": '"1.2"'},
                }
            ],
        ),
        409: (
            "Every failed item of an atomic batch conflicts with stored data",
            [{"type": "conflict", "loc": at, "msg": "Conflict with the stored data"}],
        ),
        403: (
            f"Every failed item of an atomic batch changes another user's {singular}",
            [{"type": "not_owner", "loc": [*at, "id"], "msg": NotOwner.detail}],
        ),
        428: (
            "REQUIRE_IF_MATCH, and no failed item of an atomic batch sent its version",
            [{"type": "version_required", "loc": [*at, "version"], "msg": _UNVERSIONED}],
        ),
    }
    return {
        "responses": {
            200: {"description": f"Each item's result, in order ({plural} written)"},
            **declare(Unauthenticated, MalformedBody, RequestTimedOut, BodyTooLarge),
            **{
                status: {
                    "model": InvalidBody,
                    "description": description,
                    "content": {"application/json": {"example": {"detail": example}}},
                }
                for status, (description, example) in refusals.items()
            },
        },
        "summary": f"Create and change {plural} in one request",
        "openapi_extra": SIGNED_IN_IF_POLICY,
    }
