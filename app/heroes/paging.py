"""A page's headers: `Link` to its neighbours (RFC 8288) and, if asked, `X-Total-Count`.

The links keep every parameter the client sent and change only where the page starts.
A client that sent `offset` pages by offset: `next` when the page came back full, `prev`
when it did not start at 0. Otherwise the links carry cursors: `next` after the page's
last hero when the page came back full, `prev` before its first hero unless the page is
the first. A page of `limit=0` has no neighbours.
"""

from collections.abc import Sequence
from urllib.parse import urlencode

from starlette.datastructures import URL, QueryParams

from app.core.responses import FastJSONResponse
from app.heroes.cursors import Cursor, CursorCodec
from app.heroes.listing import ListQuery, ListRequest
from app.heroes.models import HERO_ID_MAX, HeroSummary
from app.heroes.responses import heroes_response

Neighbour = dict[str, str | int] | None


def page_response(
    listing: ListRequest, heroes: Sequence[HeroSummary], total: int | None
) -> FastJSONResponse:
    response = heroes_response(heroes, listing.query.extra)
    response.headers.update(page_headers(listing, heroes, total))
    return response


def page_headers(
    listing: ListRequest, heroes: Sequence[HeroSummary], total: int | None
) -> dict[str, str]:
    headers: dict[str, str] = {}
    query, url = listing.query, listing.url
    if query.offset is not None:
        neighbours = offset_neighbours(query, len(heroes))
    else:
        neighbours = cursor_neighbours(query, heroes, listing.codec)
    links = [
        _link(url, params, rel) for rel, params in zip(("next", "prev"), neighbours, strict=True)
    ]
    if any(links):
        headers["Link"] = ", ".join(link for link in links if link)
    if total is not None:
        headers["X-Total-Count"] = str(total)
        headers["Preference-Applied"] = "count=exact"
    return headers


def offset_neighbours(query: ListQuery, found: int) -> tuple[Neighbour, Neighbour]:
    offset, limit = query.offset or 0, query.limit
    if limit == 0:
        return None, None
    full = found == limit and offset + limit <= HERO_ID_MAX
    after: Neighbour = {"offset": offset + limit} if full else None
    before: Neighbour = {"offset": max(offset - limit, 0)} if offset > 0 else None
    return after, before


def cursor_neighbours(
    query: ListQuery, heroes: Sequence[HeroSummary], codec: CursorCodec
) -> tuple[Neighbour, Neighbour]:
    """(next, prev), each the cursor of a page on one side of this one, if there is one."""
    if query.limit == 0:
        return None, None
    full, cursor = len(heroes) == query.limit, query.cursor
    if cursor is None and not heroes:
        return None, None
    if heroes:
        after = Cursor(_values(heroes[-1], query))
        before = Cursor(_values(heroes[0], query), before=True)
    else:  # an empty page: its neighbour starts where it did, and takes that row too
        assert cursor is not None  # noqa: S101  # (for mypy: the case is handled above)
        after = before = Cursor(cursor.values, not cursor.before, not cursor.inclusive)
    going_back = cursor is not None and cursor.before
    next_page = after if (full or going_back) else None
    prev_page = before if (cursor is not None and (full or not going_back)) else None
    return _token(next_page, query, codec), _token(prev_page, query, codec)


def _values(hero: HeroSummary, query: ListQuery) -> tuple[object, ...]:
    return tuple(getattr(hero, order.key) for order in query.sort)


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
