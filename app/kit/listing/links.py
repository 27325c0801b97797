"""A page's headers: `Link` to its neighbours (RFC 8288) and, if asked, `X-Total-Count`.

The links keep every parameter the client sent and change only where the page starts.
A client that sent `offset` pages by offset: `next` when the page came back full, `prev`
when it did not start at 0. Otherwise the links carry cursors: `next` after the page's
last row when the page came back full, `prev` before its first row unless the page is
the first. A page of `limit=0` has no neighbours.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import URL, QueryParams

from app.db import Row
from app.http.responses import FastJSONResponse
from app.kit.changes.feed import position_token
from app.kit.listing.cursors import Cursor, CursorCodec
from app.kit.listing.pages import Page
from app.kit.listing.parameters import ListRequest
from app.kit.listing.query import OFFSET_MAX, ListQuery

Neighbour = dict[str, str | int] | None


POSITION_HEADER = "Changes-Position"


def page_response(
    listing: ListRequest,
    page: Page,
    key_places: Mapping[str, int],
    body: Callable[[Row], Any],
) -> FastJSONResponse:
    """The page's rows as `body` renders each, with the page's links and count."""
    response = FastJSONResponse([body(row) for row in page.rows])
    response.headers.update(page_headers(listing, page.rows, key_places, page.total))
    if page.position is not None:
        response.headers[POSITION_HEADER] = position_token(page.position, listing.codec)
    return response


def page_headers(
    listing: ListRequest, rows: Sequence[Row], key_places: Mapping[str, int], total: int | None
) -> dict[str, str]:
    headers: dict[str, str] = {}
    neighbours = _neighbours(listing, rows, key_places)
    url = listing.url
    links = [
        _link(url, params, rel) for rel, params in zip(("next", "prev"), neighbours, strict=True)
    ]
    if any(links):
        headers["Link"] = ", ".join(link for link in links if link)
    if total is not None:
        headers["X-Total-Count"] = str(total)
        headers["Preference-Applied"] = "count=exact"
    return headers


def _neighbours(
    listing: ListRequest, rows: Sequence[Row], key_places: Mapping[str, int]
) -> tuple[Neighbour, Neighbour]:
    query = listing.query
    if query.offset is not None:
        return offset_neighbours(query, len(rows))
    places = [key_places[order.key] for order in query.sort]
    edges = [tuple(row[place] for place in places) for row in (*rows[:1], *rows[-1:])]
    after, before = cursor_neighbours(query, edges, full=len(rows) == query.limit)
    return _token(after, query, listing.codec), _token(before, query, listing.codec)


def offset_neighbours(query: ListQuery, found: int) -> tuple[Neighbour, Neighbour]:
    offset, limit = query.offset or 0, query.limit
    if limit == 0:
        return None, None
    full = found == limit and offset + limit <= OFFSET_MAX
    after: Neighbour = {"offset": offset + limit} if full else None
    before: Neighbour = {"offset": max(offset - limit, 0)} if offset > 0 else None
    return after, before


def cursor_neighbours(
    query: ListQuery, edges: Sequence[tuple[object, ...]], *, full: bool
) -> tuple[Cursor | None, Cursor | None]:
    """(next, prev): a cursor of the page on each side of this one, if there is one.
    `edges` are the sort-key values of the page's first and last rows (none if empty);
    `full`, whether the page came back with as many rows as it could hold."""
    if query.limit == 0:
        return None, None
    cursor = query.cursor
    if cursor is None and not edges:
        return None, None
    if edges:
        after = Cursor(edges[-1])
        before = Cursor(edges[0], before=True)
    else:  # an empty page: its neighbour starts where it did, and takes that row too
        assert cursor is not None  # noqa: S101  # (for mypy: the case is handled above)
        after = before = Cursor(cursor.values, not cursor.before, not cursor.inclusive)
    going_back = cursor is not None and cursor.before
    next_page = after if (full or going_back) else None
    prev_page = before if (cursor is not None and (full or not going_back)) else None
    return next_page, prev_page


def _token(cursor: Cursor | None, query: ListQuery, codec: CursorCodec) -> Neighbour:
    if cursor is None:
        return None
    return {"cursor": codec.encode(cursor, query.made_for())}


def _link(url: URL, params: Neighbour, rel: str) -> str | None:
    if params is None:
        return None
    return f'<{_with_params(url, params)}>; rel="{rel}"'


def _with_params(url: URL, params: dict[str, str | int]) -> URL:
    """The URL with `params` set: in their places if the client sent them, else last."""
    sent = QueryParams(url.query)
    kept = [(key, params.get(key, value)) for key, value in sent.multi_items()]
    added = [(key, value) for key, value in params.items() if key not in sent]
    return url.replace(query=urlencode(kept + added))
