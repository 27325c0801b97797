"""A list's query string, read into a `ListQuery` in one step, and declared to OpenAPI from
the same model, so that the docs and the rules cannot drift apart.

The model is made from the resource's description: each filter's parameters, then `sort`,
`cursor`, `offset`, `limit` and, if the resource has them, `fields` and `expand`. A problem is a
422 in FastAPI's shape, at ("query", parameter); the message names what is allowed and
never echoes what was sent.
"""

from dataclasses import dataclass, replace
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, create_model
from starlette.datastructures import URL, QueryParams

from app.http.conditional import DeclaredHeader
from app.http.dependencies import http_options
from app.http.query_string import query_parameters, validated_query
from app.kit.listing.cursors import MAX_TOKEN_LENGTH, CursorCodec, CursorError
from app.kit.listing.cursors import codec as cursor_codec
from app.kit.listing.query import OFFSET_MAX, InvalidQuery, ListQuery, parse_sort, wants_count
from app.kit.resource import Resource


@dataclass(frozen=True, slots=True)
class ListRequest:
    """A list request: its query, and what its links are made with."""

    query: ListQuery
    url: URL
    codec: CursorCodec


class ListParameters:
    """The query-string model of one resource's list, and how a request is read with it."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.model = _model(resource)
        self.names = tuple(self.model.model_fields)
        self._known = frozenset(self.names)
        prefer = DeclaredHeader(
            "prefer",
            f"`count=exact` adds `X-Total-Count`: how many {resource.name} match the filters, "
            "on every page (it costs a query). `Preference-Applied` then says so.",
            "count=exact",
        )
        self.openapi: dict[str, Any] = {
            "parameters": [*query_parameters(self.model), prefer.parameter()],
            "responses": {"200": {"headers": _page_headers(resource)}},
        }
        """The route's `openapi_extra`: its parameters and its page's headers (links.py) as
        /docs and client generators see them."""

    async def dependency(self, request: Request) -> ListRequest:
        """For `Depends`: the request read with the deployment's cursor key."""
        return self.read(request, cursor_codec(http_options(request).cursor_secret))

    def read(self, request: Request, codec: CursorCodec) -> ListRequest:
        """The list request the query string and `Prefer` header describe, or a 422."""
        try:
            query = self.query(request.query_params, request.headers.get("prefer"), codec)
        except InvalidQuery as error:
            location = ("query",) if error.parameter is None else ("query", error.parameter)
            problem = {"type": "value_error", "loc": location, "msg": error.message}
            raise RequestValidationError([problem]) from None
        return ListRequest(query, request.url, codec)

    def query(self, params: QueryParams, prefer: str | None, codec: CursorCodec) -> ListQuery:
        """The query these parameters ask for, or InvalidQuery (or a pydantic 422)."""
        if not params.keys() <= self._known:
            known = ", ".join(self.names)
            raise InvalidQuery(None, f"unknown query parameter; the parameters are {known}")
        given: Any = validated_query(self.model, params)
        resource = self.resource
        query = ListQuery(
            tuple(each.value(name, given) for name, each in resource.filters.items()),
            parse_sort(given.sort, resource.sorts, resource.sort_rule),
            given.limit,
            offset=given.offset,
            extra=requested_fields(resource, getattr(given, "fields", None)),
            expand=requested(resource.expansions, getattr(given, "expand", None)),
            count=wants_count(prefer),
        )
        return self._with_cursor(codec, query, given.cursor)

    def _with_cursor(self, codec: CursorCodec, query: ListQuery, token: str | None) -> ListQuery:
        if token is None:
            return query
        if query.offset is not None:
            raise InvalidQuery("cursor", "send either cursor or offset, not both")
        try:
            cursor = codec.decode(token, query.made_for())
            self._check_values(cursor.values, query)
        except CursorError as error:
            raise InvalidQuery("cursor", f"not a cursor for this query: {error}") from None
        return replace(query, cursor=cursor)

    def _check_values(self, values: tuple[Any, ...], query: ListQuery) -> None:
        """Values a row could hold, one per sort key, before any is bound."""
        if len(values) != len(query.sort):
            raise CursorError("made for another sort: keep the sort as it was")
        nullable = self.resource.nullable_keys(query.filters)
        for order, value in zip(query.sort, values, strict=True):
            key = self.resource.sorts[order.key]
            if not (key.valid(value) or (value is None and order.key in nullable)):
                raise CursorError("not a cursor of this service")


def requested_fields(resource: Resource, fields: str | None) -> tuple[str, ...]:
    """The extra fields asked for, in the body's order (the pattern vetted the names)."""
    return requested(resource.extra_fields, fields)


def requested(names: tuple[str, ...], given: str | None) -> tuple[str, ...]:
    """The names a comma-separated parameter asks for, in `names`' order (the parameter's
    pattern vetted them)."""
    asked = set(given.split(",")) if given else set()
    return tuple(name for name in names if name in asked)


def _page_headers(resource: Resource) -> dict[str, Any]:
    """The headers a page may carry, as OpenAPI header objects (none always comes)."""
    position = {
        "Changes-Position": {
            "description": (
                "The change feed's position when these rows were read: `GET /changes?since=` "
                f"it to follow every change to {resource.name} after this page, and none before."
            ),
            "schema": {"type": "string"},
        }
    }
    return (position if resource.changes is not None else {}) | {
        "Link": {
            "description": (
                'The neighbouring pages (RFC 8288): `rel="next"` when this page came back '
                'full, `rel="prev"` unless it is the first; each URL keeps the parameters '
                "sent and carries a `cursor`, or an `offset` when `offset` was sent."
            ),
            "schema": {"type": "string"},
        },
        "X-Total-Count": {
            "description": (
                f"With `Prefer: count=exact`: how many {resource.name} match the filters."
            ),
            "schema": {"type": "integer", "minimum": 0},
        },
        "Preference-Applied": {
            "description": "`count=exact` when `X-Total-Count` was counted.",
            "schema": {"type": "string", "enum": ["count=exact"]},
        },
    }


def _model(resource: Resource) -> type[BaseModel]:
    keys = list(resource.sorts)
    listed = ", ".join(f"`{key}`" for key in keys[:-1]) + f" and `{keys[-1]}`"
    notes = " ".join(sort.note for sort in resource.sorts.values() if sort.note)
    fields: dict[str, Any] = {}
    for name, each in resource.filters.items():
        fields |= each.parameters(name)
    fields |= {
        "sort": (
            str | None,
            Field(
                None,
                max_length=64,
                description=(
                    f"The order: comma-separated keys among {listed}, each at most once, "
                    f"`-` in front for descending (for example `{resource.sort_example}`). "
                    "Unless given, `id` ends the order, in the direction of the last key, "
                    f"so every order is total. {notes} Default: `id`."
                ),
                examples=[resource.sort_example],
            ),
        ),
        "cursor": (
            str | None,
            Field(
                None,
                max_length=MAX_TOKEN_LENGTH,
                description=(
                    "Where the page starts, copied from the `next` or `prev` link of the "
                    "`Link` header; instead of `offset`. Keep the filters and sort of the "
                    "page it came from (`limit` and `fields` may change). Paging by cursor "
                    f"never skips or repeats a {resource.singular}, however others "
                    "are added or deleted in between."
                ),
            ),
        ),
        "offset": (
            # No default is published: a generated client would send it on every call, and
            # a sent offset, even 0, means "page by offset" (README, "Paging").
            int | None,
            Field(
                None,
                ge=0,
                le=OFFSET_MAX,
                description=(
                    f"{resource.name.capitalize()} to skip. Sent (even `0`), the `Link` "
                    "header pages by offset; left out, the page starts at the first "
                    f"{resource.singular} and the links carry cursors. Not with `cursor`."
                ),
            ),
        ),
        "limit": (
            int,
            Field(
                resource.page_size_max,
                ge=0,
                le=resource.page_size_max,
                description=(
                    f"{resource.name.capitalize()} per page, 0 to {resource.page_size_max}."
                ),
            ),
        ),
    }
    if resource.fields is not None:
        fields["fields"] = resource.fields
    if resource.expand is not None:
        fields["expand"] = resource.expand
    name = f"{resource.name.capitalize()}ListParameters"
    return create_model(name, **fields)
