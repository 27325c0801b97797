"""Finding heroes: the list's query parameters, their rules, and the query they make.

`list_request` reads `GET /heroes/`'s parameters into a `ListQuery`: filters, a total
order (the sort, ended by `id`), and where the page starts (an offset, or a cursor). Nothing a
client sends becomes SQL text: sort keys are looked up in an allowlist, and values are
bound as parameters (`listing_sql`). A problem answers 422 in the shape of every other
422, and the message names what is allowed, never echoing what was sent.
"""

from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.datastructures import URL

from app.core.conditional import DeclaredHeader
from app.core.query import query_parameters, validated_query
from app.heroes.cursors import (
    MAX_TOKEN_LENGTH,
    Cursor,
    CursorCodec,
    CursorError,
    codec,
    fingerprint,
)
from app.heroes.models import AGE_MAX, HERO_ID_MAX, NAME_MAX_LENGTH, Text
from app.heroes.responses import ExtraFields, requested

PAGE_SIZE_MAX = 100
SORT_KEYS = ("id", "name", "age")
SORT_RULE = (
    "sort is a comma-separated list of id, name and age, each at most once and each "
    "optionally prefixed with - for descending (for example -age,name)"
)
NULL_AGE_RULE = (
    "Heroes with no age sort as if theirs were the largest: after every age ascending, "
    "before every age descending."
)


@dataclass(frozen=True, slots=True)
class Order:
    key: str  # one of SORT_KEYS
    descending: bool = False

    def reversed(self) -> "Order":
        return Order(self.key, not self.descending)


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters, normalised: `age` becomes both bounds; `has_age=true` with a bound
    says nothing more. Equal filters give equal objects (and share cursors)."""

    name: str | None = None
    name_contains: str | None = None
    min_age: int | None = None
    max_age: int | None = None
    has_age: bool | None = None

    @property
    def ages_known(self) -> bool:
        """Every hero these filters let through has an age."""
        return self.min_age is not None or self.max_age is not None or self.has_age is True


@dataclass(frozen=True, slots=True)
class ListQuery:
    filters: Filters
    sort: tuple[Order, ...]  # a total order: the last key is id
    limit: int
    offset: int | None = None  # None: the client sent no offset
    cursor: Cursor | None = None
    extra: tuple[str, ...] = ()  # timestamps asked for with ?fields=
    count: bool = False  # Prefer: count=exact

    def made_for(self) -> bytes:
        """What a cursor of this query is bound to: the sort and the filters."""
        sort = [[order.key, order.descending] for order in self.sort]
        filters = self.filters
        values = [filters.name, filters.name_contains, filters.min_age, filters.max_age]
        return fingerprint([sort, [*values, filters.has_age]])


def invalid(parameter: str | None, message: str) -> RequestValidationError:
    """A 422 like FastAPI's own, at ("query", parameter), or ("query",) for the query."""
    location = ("query",) if parameter is None else ("query", parameter)
    return RequestValidationError([{"type": "value_error", "loc": location, "msg": message}])


def parse_sort(raw: str | None) -> tuple[Order, ...]:
    """The client's keys, then `id` in the direction of the last key if not given."""
    if raw is None:
        return (Order("id"),)
    orders = [_parse_order(item.strip()) for item in raw.split(",")]
    keys = [order.key for order in orders]
    if len(set(keys)) < len(keys):
        raise invalid("sort", f"a key appears twice: {SORT_RULE}")
    if "id" in keys:  # id is unique: keys after it never decide anything
        return tuple(orders[: keys.index("id") + 1])
    return (*orders, Order("id", orders[-1].descending))


def _parse_order(item: str) -> Order:
    key = item.removeprefix("-")
    if key not in SORT_KEYS:
        raise invalid("sort", f"unknown or empty sort key: {SORT_RULE}")
    return Order(key, descending=item.startswith("-"))


def normalise_filters(  # noqa: PLR0913  # one argument per filter
    *,
    name: str | None,
    name_contains: str | None,
    age: int | None,
    min_age: int | None,
    max_age: int | None,
    has_age: bool | None,
) -> Filters:
    lows = [value for value in (age, min_age) if value is not None]
    highs = [value for value in (age, max_age) if value is not None]
    low, high = max(lows, default=None), min(highs, default=None)
    if has_age is True and (low is not None or high is not None):
        has_age = None
    return Filters(name, name_contains, low, high, has_age)


def wants_count(prefer: str | None) -> bool:
    """Whether a `Prefer` header (RFC 7240) asks for `count=exact`."""
    if not prefer:
        return False
    for preference in prefer.split(","):
        token, _, value = preference.split(";")[0].partition("=")
        if token.strip().lower() == "count" and value.strip().strip('"').lower() == "exact":
            return True
    return False


def check_cursor_values(values: tuple[Any, ...], query: ListQuery) -> None:
    if len(values) != len(query.sort):
        raise CursorError("made for another sort: keep the sort as it was")
    for order, value in zip(query.sort, values, strict=True):
        if not _valid_value(order.key, value, nullable=not query.filters.ages_known):
            raise CursorError("not a cursor of this service")


def _valid_value(key: str, value: object, *, nullable: bool) -> bool:
    if key == "name":
        return isinstance(value, str) and _storable(value)
    if key == "age" and value is None:
        return nullable
    # bool is an int to Python, not to the databases
    bound = AGE_MAX if key == "age" else HERO_ID_MAX
    low = 0 if key == "age" else -HERO_ID_MAX - 1
    return type(value) is int and low <= value <= bound


def _storable(name: str) -> bool:
    """A name a database column can hold and compare: no NUL, no lone surrogate."""
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in name and len(name) <= NAME_MAX_LENGTH


# --- the parameters, as /docs shows them ------------------------------------------------


class ListParameters(BaseModel):
    """The list's query parameters, validated in one step.

    Declared to FastAPI one by one, a dozen parameters cost the tutorial's plain list
    110 us a request in-process (280 against 170), more than its query. The route
    declares them to OpenAPI from this model instead (`LIST_OPENAPI`), so the docs and
    the rules cannot drift apart.
    """

    name: Text | None = Field(
        None,
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        description="Only heroes with exactly this name (case, accents and spaces count).",
        examples=["Deadpond"],
    )
    name_contains: Text | None = Field(
        None,
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        description=(
            "Only heroes whose name contains this text. A-Z and a-z match each other; "
            "every other character, accented letters included, matches only itself, the "
            "same on every database. `%`, `_` and `\\` are plain characters."
        ),
        examples=["pond"],
    )
    age: int | None = Field(
        None, ge=0, le=AGE_MAX, description="Only heroes of exactly this age.", examples=[48]
    )
    min_age: int | None = Field(
        None, ge=0, le=AGE_MAX, description="Only heroes at least this old.", examples=[18]
    )
    max_age: int | None = Field(
        None, ge=0, le=AGE_MAX, description="Only heroes at most this old.", examples=[60]
    )
    has_age: bool | None = Field(
        None,
        description="`true`: only heroes with an age; `false`: only heroes with no age.",
        examples=[True],
    )
    sort: str | None = Field(
        None,
        max_length=64,
        description=(
            "The order: comma-separated keys among `id`, `name` and `age`, each at most "
            "once, `-` in front for descending (for example `-age,name`). Unless given, "
            "`id` ends the order, in the direction of the last key, so every order is "
            f"total. Names sort by Unicode code point. {NULL_AGE_RULE} Default: `id`."
        ),
        examples=["-age,name"],
    )
    cursor: str | None = Field(
        None,
        max_length=MAX_TOKEN_LENGTH,
        description=(
            "Where the page starts, copied from the `next` or `prev` link of the `Link` "
            "header; instead of `offset`. Keep the filters and sort of the page it came "
            "from (`limit` and `fields` may change). Paging by cursor never skips or "
            "repeats a hero, however others are added or deleted in between."
        ),
    )
    offset: int = Field(
        0,
        ge=0,
        le=HERO_ID_MAX,
        description=(
            "Heroes to skip. With `offset` the `Link` header pages by offset; without it, "
            "by cursor."
        ),
    )
    limit: int = Field(
        PAGE_SIZE_MAX, ge=0, le=PAGE_SIZE_MAX, description="Heroes per page, 0 to 100."
    )
    fields: ExtraFields = None


PARAMETERS = tuple(ListParameters.model_fields)
_KNOWN = frozenset(PARAMETERS)
PREFER_DESCRIPTION = (
    "`count=exact` adds `X-Total-Count`: how many heroes match the filters, on every page "
    "(it costs a query). `Preference-Applied` then says so."
)


_PREFER = DeclaredHeader("prefer", PREFER_DESCRIPTION, "count=exact")
LIST_OPENAPI: dict[str, Any] = {
    "parameters": [*query_parameters(ListParameters), _PREFER.parameter()]
}
"""The route's `openapi_extra`: its parameters as /docs shows them."""


@dataclass(frozen=True, slots=True)
class ListRequest:
    """A list request: its query, and what its links are made with."""

    query: ListQuery
    url: URL
    codec: CursorCodec


async def list_request(request: Request) -> ListRequest:
    """The list request the query string and `Prefer` header describe, or a 422."""
    _refuse_unknown_parameters(request)
    given = validated_query(ListParameters, request)
    query = ListQuery(
        normalise_filters(
            name=given.name,
            name_contains=given.name_contains,
            age=given.age,
            min_age=given.min_age,
            max_age=given.max_age,
            has_age=given.has_age,
        ),
        parse_sort(given.sort),
        given.limit,
        offset=given.offset if "offset" in request.query_params else None,
        extra=requested(given.fields),
        count=wants_count(request.headers.get("prefer")),
    )
    codec = cursor_codec(request)
    return ListRequest(_with_cursor(codec, query, given.cursor), request.url, codec)


def _refuse_unknown_parameters(request: Request) -> None:
    if not request.query_params.keys() <= _KNOWN:
        raise invalid(None, f"unknown query parameter; the parameters are {', '.join(PARAMETERS)}")


def _with_cursor(codec: CursorCodec, query: ListQuery, token: str | None) -> ListQuery:
    if token is None:
        return query
    if query.offset is not None:
        raise invalid("cursor", "send either cursor or offset, not both")
    try:
        cursor = codec.decode(token, query.made_for())
        check_cursor_values(cursor.values, query)
    except CursorError as error:
        raise invalid("cursor", f"not a cursor for this query: {error}") from None
    return replace(query, cursor=cursor)


def cursor_codec(request: Request) -> CursorCodec:
    secret = request.app.state.settings.cursor_secret
    return codec(secret.get_secret_value() if secret is not None else None)


ListRequestDep = Annotated[ListRequest, Depends(list_request)]
