"""`GET /changes`: the change feed, read from the change log (app/kit/changes)."""

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from app.db import Database, DatabaseUnavailable
from app.http.dependencies import DatabaseDep, OptionsDep
from app.http.errors import InvalidInput, declare
from app.http.query_string import query_parameters, validated_query
from app.http.responses import FastJSONResponse
from app.kit.changes.feed import (
    FeedPage,
    Filters,
    InvalidPosition,
    PositionGone,
    position_of,
    position_token,
    read_feed,
)
from app.kit.changes.watch import ChangeWatch
from app.kit.fields import ID_MAX
from app.kit.listing.cursors import CursorCodec, codec

TAG = {
    "name": "changes",
    "description": (
        "What changed to heroes and teams, in commit order: follow it from a list's "
        "`Changes-Position` header to keep a copy in step."
    ),
}
router = APIRouter(tags=["changes"])

WAIT_MAX = 30
LIMIT_MAX = 1000
POSITION_MAX_LENGTH = 2048


class FeedParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: str | None = Field(
        None,
        max_length=POSITION_MAX_LENGTH,
        description=(
            "The position to continue from: the `position` of the last answer, or a "
            "list's `Changes-Position` header. Without it the feed starts now."
        ),
    )
    resource: Literal["heroes", "teams"] | None = Field(
        None, description="Only the changes of this resource."
    )
    id: int | None = Field(
        None, ge=-ID_MAX - 1, le=ID_MAX, description="Only the changes of the row with this id."
    )
    limit: int = Field(100, ge=1, le=LIMIT_MAX, description="At most this many changes.")
    wait: float = Field(
        0,
        ge=0,
        le=WAIT_MAX,
        description=(
            "Seconds to wait for a change when there is none yet (a long poll): the answer "
            "comes as soon as one is committed, or empty when the time is up."
        ),
    )


class Change(BaseModel):
    position: str
    resource: Literal["heroes", "teams"]
    id: int
    version: int
    op: Literal["create", "update", "delete", "restore"]
    data: dict[str, Any]
    changed_at: datetime
    actor: int | None


class Changes(BaseModel):
    changes: list[Change]
    position: str


class InvalidFeedRequest(InvalidInput):
    problems = (
        {
            "type": "value_error",
            "loc": ["query", "since"],
            "msg": "not a position of this service: use a feed's `position` or a list's "
            "Changes-Position as it is",
        },
    )


def _watch(request: Request) -> ChangeWatch:
    watch: ChangeWatch = request.app.state.changes_watch
    return watch


WatchDep = Annotated[ChangeWatch, Depends(_watch)]


@router.get(
    "/changes",
    response_model=Changes,
    responses=declare(InvalidFeedRequest, PositionGone, DatabaseUnavailable),
    openapi_extra={"parameters": query_parameters(FeedParameters)},
    summary="What changed, in commit order",
)
async def read_changes(
    request: Request, database: DatabaseDep, options: OptionsDep, watch: WatchDep
) -> FastJSONResponse:
    """The changes to heroes and teams after `since`, oldest first, and the `position` to
    continue from. Following the feed from a list's `Changes-Position` header keeps a copy
    exactly in step: every committed change once, in commit order. 410 when `since` is
    older than the changes kept (CHANGES_RETENTION): list again."""
    given = validated_query(FeedParameters, request.query_params)
    positions = codec(options.cursor_secret)
    since = _since(given.since, positions)
    filters = Filters(given.resource, given.id)
    page = await read_feed(database, since, filters, given.limit)
    if not page.changes and given.wait > 0:
        page = await _wait_for_changes(database, watch, page.position, filters, given)
    return FastJSONResponse(_body(page, positions))


async def _wait_for_changes(
    database: Database, watch: ChangeWatch, since: int, filters: Filters, given: FeedParameters
) -> FeedPage:
    """The first page with a change after `since`, or an empty one when the wait is over;
    each time the clock moves, the page is read again (other resources' changes, or other
    rows', move it too)."""
    deadline = time.monotonic() + given.wait
    page = FeedPage([], since)
    while not page.changes:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not await watch.wait_past(page.position, remaining):
            return page
        page = await read_feed(database, page.position, filters, given.limit)
    return page


def _since(token: str | None, positions: CursorCodec) -> int | None:
    if token is None:
        return None
    try:
        return position_of(token, positions)
    except InvalidPosition as error:
        problem = {"type": "value_error", "loc": ("query", "since"), "msg": str(error)}
        raise RequestValidationError([problem]) from None


def _body(page: FeedPage, positions: CursorCodec) -> dict[str, Any]:
    changes = [
        change | {"position": position_token(change["position"], positions)}
        for change in page.changes
    ]
    return {"changes": changes, "position": position_token(page.position, positions)}
