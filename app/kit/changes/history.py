"""A row's history: every version the change log recorded of it, oldest first, read a page
at a time as lists are (keyset on the version, the lists' signed cursors and `Link`
header), and the recorded changes a restore starts from.

Every read here is a range of the log's unique key (resource, row_id, version). What a
change kept that is never public (`kept`) is read only for a restore, never answered.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from sqlalchemy import and_, bindparam, or_, select

from app.db import Database, Row
from app.db.statements import Statement
from app.db.tables import column
from app.http.dependencies import http_options
from app.http.query_string import query_parameters, validated_query
from app.http.responses import ANSWER_CONFIG, FastJSONResponse
from app.kit.changes.log import ChangeLog
from app.kit.changes.models import ChangeRecord
from app.kit.fields import json_integer
from app.kit.listing.cursors import MAX_TOKEN_LENGTH, CursorError
from app.kit.listing.cursors import codec as cursor_codec
from app.kit.listing.links import page_headers
from app.kit.listing.parameters import ListRequest
from app.kit.listing.query import ListQuery, Order
from app.kit.resource import VERSION_MAX, Resource

_resource, _row_id = column(ChangeRecord.resource), column(ChangeRecord.row_id)
_version = column(ChangeRecord.version)
_OF_ROW = and_(_resource == bindparam("resource"), _row_id == bindparam("row_id"))
_SHOWN = (
    _version,
    column(ChangeRecord.op),
    column(ChangeRecord.data),
    column(ChangeRecord.changed_at),
    column(ChangeRecord.actor),
)
_AFTER = Statement(
    select(*_SHOWN)
    .where(_OF_ROW, _version > bindparam("after"))
    .order_by(_version)
    .limit(bindparam("limit"))
)
_BEFORE = Statement(
    select(*_SHOWN)
    .where(_OF_ROW, _version < bindparam("before"))
    .order_by(_version.desc())
    .limit(bindparam("limit"))
)
_RECORDED = (
    _version,
    column(ChangeRecord.op),
    column(ChangeRecord.data),
    column(ChangeRecord.kept),
    column(ChangeRecord.changed_at),
)
_AT = Statement(select(*_RECORDED).where(_OF_ROW, _version == bindparam("version")))
_LAST = Statement(select(*_RECORDED).where(_OF_ROW).order_by(_version.desc()).limit(1))
_ORDER = (Order("version"),)
_KEY_PLACES = {"version": 0}  # the version's place in a page's rows

Op = Literal["create", "update", "delete", "restore"]


class History:
    """One resource's history routes: the query string they read (`cursor`, `limit`, as a
    list's), their statements and their answer."""

    def __init__(self, resource: Resource) -> None:
        assert resource.changes is not None  # noqa: S101  # only a logged resource has one
        self.resource = resource
        self.log: ChangeLog = resource.changes
        self.model = _parameters(resource)
        self.names = tuple(self.model.model_fields)
        self._exists = Statement(
            select(
                or_(
                    select(_version).where(_OF_ROW).exists(),
                    select(resource.id).where(resource.id == bindparam("row_id")).exists(),
                )
            )
        )
        self.openapi: dict[str, Any] = {
            "parameters": query_parameters(self.model),
            "responses": {"200": {"headers": {"Link": _LINK}}},
        }
        """The route's `openapi_extra`: its parameters and its `Link` header."""

    def read(self, request: Request, row_id: int) -> ListRequest:
        """The page of this row's history the query string asks for, or a 422."""
        params = request.query_params
        if not params.keys() <= set(self.names):
            known = ", ".join(self.names)
            _refuse(None, f"unknown query parameter; the parameters are {known}")
        given: Any = validated_query(self.model, params)
        codec = cursor_codec(http_options(request).cursor_secret)
        query = ListQuery(((self.log.resource, row_id),), _ORDER, given.limit)
        if given.cursor is not None:
            try:
                cursor = codec.decode(given.cursor, query.made_for())
            except CursorError as error:
                _refuse("cursor", f"not a cursor of this history: {error}")
            if not self._is_version(cursor.values):
                _refuse("cursor", "not a cursor of this history: not a cursor of this service")
            query = ListQuery(query.filters, _ORDER, given.limit, cursor=cursor)
        return ListRequest(query, request.url, codec)

    async def page(self, database: Database, row_id: int, query: ListQuery) -> list[Row]:
        """The recorded changes of the row that the query's page holds, oldest first; the
        resource's NotFound if the row has none and does not exist either (a row written
        before the log existed has an empty history)."""
        params: dict[str, Any] = {"resource": self.log.resource, "row_id": row_id}
        params["limit"] = query.limit
        cursor = query.cursor
        if cursor is not None and cursor.before:
            params["before"] = cursor.values[0] + int(cursor.inclusive)
            rows = await database.fetch_all(_BEFORE, params)
            rows.reverse()
        else:
            params["after"] = 0 if cursor is None else cursor.values[0] - int(cursor.inclusive)
            rows = await database.fetch_all(_AFTER, params)
        if not rows and not await self._known(database, row_id):
            raise self.resource.not_found()
        return rows

    def response(self, listing: ListRequest, rows: list[Row]) -> FastJSONResponse:
        """The page's changes, each `{"version", "op", "data", "changed_at", "actor"}`,
        with the `Link` header to its neighbours."""
        headers = page_headers(listing, rows, _KEY_PLACES, None)
        return FastJSONResponse([_shown(row) for row in rows], headers=headers)

    async def _known(self, database: Database, row_id: int) -> bool:
        params = {"resource": self.log.resource, "row_id": row_id}
        found = await database.fetch_one(self._exists, params)
        return found is not None and bool(found[0])

    def _is_version(self, values: tuple[Any, ...]) -> bool:
        version_max = self.resource.version_max
        return len(values) == 1 and type(values[0]) is int and 0 < values[0] <= version_max


def _shown(row: Row) -> dict[str, Any]:
    # `data` is stored as the JSON the feed answers: it goes out as it is, unparsed.
    version, op, data, changed_at, actor = row
    changed = {"version": version, "op": op, "data": orjson.Fragment(data)}
    return changed | {"changed_at": changed_at, "actor": actor}


def _refuse(parameter: str | None, message: str) -> None:
    location = ("query",) if parameter is None else ("query", parameter)
    raise RequestValidationError([{"type": "value_error", "loc": location, "msg": message}])


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded change of a row, as a restore reads it."""

    version: int
    op: str
    data: Mapping[str, Any]
    kept: Mapping[str, Any] | None
    changed_at: datetime


async def change_at(
    database: Database, log: ChangeLog, row_id: int, version: int
) -> Recorded | None:
    """The row's change recorded at this version, if there is one."""
    params = {"resource": log.resource, "row_id": row_id, "version": version}
    return _recorded(await database.fetch_one(_AT, params))


async def last_change(database: Database, log: ChangeLog, row_id: int) -> Recorded | None:
    """The row's last recorded change, if it has any."""
    return _recorded(await database.fetch_one(_LAST, {"resource": log.resource, "row_id": row_id}))


def _recorded(row: Row | None) -> Recorded | None:
    if row is None:
        return None
    version, op, data, kept, changed_at = row
    return Recorded(
        version, op, orjson.loads(data), None if kept is None else orjson.loads(kept), changed_at
    )


# --- what clients see ----------------------------------------------------------------------


RecordedVersion = Annotated[int, Field(ge=1, le=VERSION_MAX), BeforeValidator(json_integer)]


class RestoreRequest(BaseModel):
    """A restore's body: the version to bring back (as a new version)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"version": 2}]})

    version: RecordedVersion | None = Field(
        default=None,
        description=(
            "The version to restore, as the history lists it. Left out (or null): a "
            "deleted row's last state before its deletion; a row that exists needs one."
        ),
    )


class ChangeAnswer(BaseModel):
    """One change in a row's history, as the docs and client generators see it; each
    resource's subclass says what its `data` holds."""

    model_config = ANSWER_CONFIG

    version: int = Field(description="The version this change made.", examples=[2])
    op: Op = Field(description="What the change was.", examples=["update"])
    data: Any = Field(
        description="The row's public state after the change (for a delete, its last state)."
    )
    changed_at: datetime = Field(description="When it was made (RFC 3339, UTC).")
    actor: int | None = Field(
        description="The signed-in user who made it, or null.", examples=[None]
    )


def _parameters(resource: Resource) -> type[BaseModel]:
    most = resource.page_size_max
    fields: dict[str, Any] = {
        "cursor": (
            str | None,
            Field(
                None,
                max_length=MAX_TOKEN_LENGTH,
                description=(
                    "Where the page starts, copied from the `next` or `prev` link of the "
                    "`Link` header."
                ),
            ),
        ),
        "limit": (int, Field(most, ge=0, le=most, description=f"Changes per page, 0 to {most}.")),
    }
    return create_model(f"{resource.singular.capitalize()}HistoryParameters", **fields)


_LINK = {
    "description": (
        'The neighbouring pages (RFC 8288): `rel="next"` when this page came back full, '
        '`rel="prev"` unless it is the first; each URL carries a `cursor`.'
    ),
    "schema": {"type": "string"},
}


NO_VERSION = RestoreRequest()
"""A restore without a body: a deleted row's last state."""
