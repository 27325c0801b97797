"""`GET /changes`: the change feed, read from the change log (app/kit/changes): a JSON
page, a long poll, or Server-Sent Events (stream.py)."""

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.auth.policy import read_until
from app.changes.stream import (
    MEDIA_TYPE,
    ChangeStream,
    Follow,
    StreamSettings,
    event,
    wants_events,
)
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
    Since,
    current_position,
    position_of,
    position_token,
    read_feed,
)
from app.kit.changes.watch import Batch, ChangeWatch
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


_EXAMPLE_POSITION = "WzQyXQ.v3Jx0p7C8yqE1m9Hq2bW4f5Tz6s"
_EVENTS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "The changes, as JSON; or, with `Accept: text/event-stream`, as Server-Sent "
            "Events (`change`, `bookmark`, `reset`, `reconnect`) that do not end"
        ),
        "content": {
            MEDIA_TYPE: {
                "schema": {"type": "string"},
                "example": (
                    event(
                        b"bookmark",
                        b'{"position":"%s"}' % _EXAMPLE_POSITION.encode(),
                        _EXAMPLE_POSITION,
                    )
                    + b":\n\n"
                ).decode(),
            }
        },
    }
}


@router.get(
    "/changes",
    response_model=Changes,
    responses=declare(InvalidFeedRequest, PositionGone, DatabaseUnavailable) | _EVENTS,
    openapi_extra={"parameters": query_parameters(FeedParameters)},
    summary="What changed, in commit order",
)
async def read_changes(
    request: Request,
    database: DatabaseDep,
    options: OptionsDep,
    watch: WatchDep,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description=(
                "With `Accept: text/event-stream`: the `id` of the last event received, "
                "to resume from (instead of `since`; an EventSource sends it by itself)."
            ),
        ),
    ] = None,
) -> Response:
    """The changes to heroes and teams after `since`, oldest first, and the `position` to
    continue from. Following the feed from a list's `Changes-Position` header keeps a copy
    exactly in step: every committed change once, in commit order. 410 when `since` is
    older than the changes kept (CHANGES_RETENTION): list again. With
    `Accept: text/event-stream`, the same changes as Server-Sent Events, for as long as
    the client stays (`wait` does not apply; `limit` is the most sent at once)."""
    given = validated_query(FeedParameters, request.query_params)
    positions = codec(options.cursor_secret)
    filters = Filters(given.resource, given.id)
    streaming = wants_events(request.headers.get("accept"))
    if streaming:
        since = _resumed_from(last_event_id, given.since, positions)
    else:
        since = _since(given.since, positions)
    # Every change committed before the request is numbered first: a client reads its
    # own writes, and "now" is after all of them.
    await watch.settle()
    since = await _resolved(database, since)
    if streaming:
        settings = StreamSettings(
            options.stream_heartbeat, options.send_timeout, read_until(request)
        )
        return await _event_stream(watch, since, given, positions, settings)
    page = await read_feed(database, since, filters, given.limit)
    if since is None:
        since = Since(page.position)
    if not page.changes and given.wait > 0:
        page = await _wait_for_changes(watch, since.moved(page.position), filters, given)
    return FastJSONResponse(_body(page, since, positions))


async def _resolved(database: Database, since: Since | None) -> Since | None:
    """`since` with the `until` of the changes it skips, read after the sequencer's round
    that numbered them (app/kit/changes/feed.py, `Since`)."""
    if since is None or not since.skip or since.until is not None:
        return since
    return since.resolved(await current_position(database))


async def _wait_for_changes(
    watch: ChangeWatch, since: Since, filters: Filters, given: FeedParameters
) -> FeedPage:
    """The first page with a change after `since`, or an empty one when the wait is over;
    each time the clock moves, the worker's one read of the new changes is filtered again
    (other resources' changes, or other rows', move it too)."""
    deadline = time.monotonic() + given.wait
    page = FeedPage([], since.at)
    while not page.changes:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not await watch.wait_past(page.position, remaining):
            return page
        page = _page(await watch.changes_after(since.moved(page.position), filters, given.limit))
    return page


async def _event_stream(
    watch: ChangeWatch,
    since: Since | None,
    given: FeedParameters,
    positions: CursorCodec,
    settings: StreamSettings,
) -> ChangeStream:
    """The stream, its first batch read from the database before it starts (which checks
    the position: a database that cannot be read is a 503 still); a position older than
    the log keeps is a `reset` event, not a 410."""
    filters, limit = Filters(given.resource, given.id), given.limit
    first: Batch | None
    if since is None:
        first = await watch.read(None, filters, limit)
        since = Since(first.position)
    else:
        try:
            first = await watch.read(since, filters, limit)
        except PositionGone:
            first = None
    follow = Follow(watch, since, first, filters, limit, positions)
    return ChangeStream(follow, settings)


def _page(batch: Batch) -> FeedPage:
    return FeedPage([change.body for change in batch.changes], batch.position)


def _resumed_from(
    last_event_id: str | None, since: str | None, positions: CursorCodec
) -> Since | None:
    """A stream resumes from Last-Event-ID, which an EventSource sends (with its first
    URL, whose `since` is older) when it reconnects."""
    if last_event_id is None:
        return _since(since, positions)
    return _since(last_event_id, positions, ("header", "Last-Event-ID"))


def _since(
    token: str | None, positions: CursorCodec, where: tuple[str, str] = ("query", "since")
) -> Since | None:
    if token is None:
        return None
    try:
        return position_of(token, positions)
    except InvalidPosition as error:
        problem = {"type": "value_error", "loc": where, "msg": str(error)}
        raise RequestValidationError([problem]) from None


def _body(page: FeedPage, since: Since, positions: CursorCodec) -> dict[str, Any]:
    changes = [
        change | {"position": position_token(since.moved(change["position"]), positions)}
        for change in page.changes
    ]
    return {"changes": changes, "position": position_token(since.moved(page.position), positions)}
