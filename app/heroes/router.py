from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from app.core.conditional import PreconditionFailed, PreconditionRequired, declared_headers
from app.core.database import DatabaseDep
from app.core.errors import (
    BodyTooLarge,
    DatabaseUnavailable,
    InvalidInput,
    MalformedBody,
    declare,
)
from app.core.responses import FastJSONResponse
from app.core.routing import StrictJSONRoute
from app.heroes import service
from app.heroes.dependencies import HeroId
from app.heroes.errors import HeroNotFound, InvalidHeroChanges, InvalidHeroId, InvalidPage
from app.heroes.etags import IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, expected_versions
from app.heroes.listing import LIST_OPENAPI, ListRequestDep
from app.heroes.models import HeroCreate, HeroPublic, HeroUpdate
from app.heroes.paging import page_response
from app.heroes.responses import (
    HERO_HEADERS,
    LOCATION_HEADER,
    READ_PARAMETERS,
    hero_response,
    is_current,
    not_modified,
    requested_fields,
)

# Routes are `async def` and await the service: the data-access layer decides, per backend,
# what runs on the event loop and what on a thread (app/core/database, bench/PROFILE.md).
router = APIRouter(
    prefix="/heroes",
    tags=["heroes"],
    route_class=StrictJSONRoute,
    responses=DatabaseUnavailable.responses(),
)


class Deleted(BaseModel):
    ok: bool = True


@router.post(
    "/",
    response_model=HeroPublic,
    responses={
        200: {"headers": HERO_HEADERS | LOCATION_HEADER},
        **declare(MalformedBody, BodyTooLarge, InvalidInput),
    },
    summary="Create a hero",
)
async def create_hero(
    hero: HeroCreate, database: DatabaseDep, request: Request
) -> FastJSONResponse:
    """Create a hero and answer it with its new id, its `ETag`, `Last-Modified`, and its
    URL in `Location`. The status is 200, as the tutorial's clients expect.

    Any `id` in the body, and any unknown field, is ignored: the service assigns the id.
    `secret_name` is stored and never returned.
    """
    created = await service.create_hero(database, hero)
    location = str(request.url_for("read_hero", hero_id=created.id))
    return hero_response(created, location=location)


@router.get(
    "/",
    response_model=list[HeroPublic],
    responses=declare(InvalidPage),
    summary="List heroes",
    openapi_extra=LIST_OPENAPI,
)
async def list_heroes(listing: ListRequestDep, database: DatabaseDep) -> FastJSONResponse:
    """Heroes that match every filter given, in the order `sort` asks (default: `id`), a
    page at a time: by `offset`, or by the cursors of the `Link` header's `next` and
    `prev` links (RFC 8288). Without new parameters, the tutorial's list as before.

    Send `Prefer: count=exact` for `X-Total-Count`, the number of heroes the filters
    match. Unknown parameters, sort keys given twice or unknown, and cursors that were
    changed or made for other filters or another sort are 422, naming what is allowed.
    """
    query = listing.query
    heroes = await service.list_heroes(database, query)
    total = await service.count_heroes(database, query.filters) if query.count else None
    return page_response(listing, heroes, total)


@router.get(
    "/{hero_id}",
    response_model=HeroPublic,
    responses={
        200: {"headers": HERO_HEADERS},
        304: {
            "description": "Not Modified: the copy the client names is current (no body)",
            "headers": HERO_HEADERS,
        },
        **declare(HeroNotFound, InvalidHeroId),
    },
    summary="Read a hero",
    openapi_extra=declared_headers(IF_NONE_MATCH, IF_MODIFIED_SINCE, query=READ_PARAMETERS),
)
async def read_hero(hero_id: HeroId, database: DatabaseDep, request: Request) -> Response:
    """The hero with this id, or 404 if there is none, with its `ETag` and `Last-Modified`;
    `fields` adds the timestamps to the body. 304 without a body when `If-None-Match`
    names its ETag, or (without `If-None-Match`) when it has not changed since
    `If-Modified-Since`."""
    extra = requested_fields(request)
    hero = await service.get_hero(database, hero_id)
    if is_current(hero, request):
        return not_modified(hero)
    return hero_response(hero, extra)


@router.patch(
    "/{hero_id}",
    response_model=HeroPublic,
    responses={
        200: {"headers": HERO_HEADERS},
        **declare(
            HeroNotFound,
            MalformedBody,
            PreconditionFailed,
            BodyTooLarge,
            InvalidHeroChanges,
            PreconditionRequired,
        ),
    },
    summary="Update a hero",
    openapi_extra=declared_headers(IF_MATCH),
)
async def update_hero(
    hero_id: HeroId, changes: HeroUpdate, database: DatabaseDep, request: Request
) -> FastJSONResponse:
    """Change only the fields sent: `{"age": null}` clears the age, `{}` changes nothing.

    `name` and `secret_name` may be left out but not set to null. A change bumps the
    hero's ETag and moves `Last-Modified`. With `If-Match`, the change happens only if the
    hero still has that ETag (else 412 with the current one): no lost updates.
    """
    expected = expected_versions(request, hero_id)
    return hero_response(await service.update_hero(database, hero_id, changes, expected))


@router.delete(
    "/{hero_id}",
    responses={
        200: {"content": {"application/json": {"example": {"ok": True}}}},
        **declare(HeroNotFound, PreconditionFailed, InvalidHeroId, PreconditionRequired),
    },
    summary="Delete a hero",
    openapi_extra=declared_headers(IF_MATCH),
)
async def delete_hero(hero_id: HeroId, database: DatabaseDep, request: Request) -> Deleted:
    """Delete the hero with this id for good; 404 if there is none. With `If-Match`, only
    if the hero still has that ETag (else 412 with the current one)."""
    await service.delete_hero(database, hero_id, expected_versions(request, hero_id))
    return Deleted()
