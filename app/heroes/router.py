from fastapi import APIRouter
from pydantic import BaseModel

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
from app.heroes.dependencies import HeroDep, HeroId
from app.heroes.errors import HeroNotFound, InvalidHeroChanges, InvalidHeroId, InvalidPage
from app.heroes.listing import ListRequestDep
from app.heroes.models import HeroCreate, HeroPublic, HeroUpdate
from app.heroes.paging import page_response
from app.heroes.responses import ExtraFields, hero_response, requested

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
    responses=declare(MalformedBody, BodyTooLarge, InvalidInput),
    summary="Create a hero",
)
async def create_hero(hero: HeroCreate, database: DatabaseDep) -> FastJSONResponse:
    """Create a hero and answer it with its new id (and `Last-Modified`).

    Any `id` in the body, and any unknown field, is ignored: the service assigns the id.
    `secret_name` is stored and never returned.
    """
    return hero_response(await service.create_hero(database, hero))


@router.get(
    "/",
    response_model=list[HeroPublic],
    responses=declare(InvalidPage),
    summary="List heroes",
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
    responses=declare(HeroNotFound, InvalidHeroId),
    summary="Read a hero",
)
async def read_hero(hero: HeroDep, fields: ExtraFields = None) -> FastJSONResponse:
    """The hero with this id, or 404 if there is none. `Last-Modified` says when it last
    changed; `fields` adds the timestamps to the body."""
    return hero_response(hero, requested(fields))


@router.patch(
    "/{hero_id}",
    response_model=HeroPublic,
    responses=declare(HeroNotFound, MalformedBody, BodyTooLarge, InvalidHeroChanges),
    summary="Update a hero",
)
async def update_hero(
    hero_id: HeroId, changes: HeroUpdate, database: DatabaseDep
) -> FastJSONResponse:
    """Change only the fields sent: `{"age": null}` clears the age, `{}` changes nothing.

    `name` and `secret_name` may be left out but not set to null. A change moves the
    hero's `updated_at`, answered as `Last-Modified`.
    """
    return hero_response(await service.update_hero(database, hero_id, changes))


@router.delete(
    "/{hero_id}",
    responses={
        200: {"content": {"application/json": {"example": {"ok": True}}}},
        **declare(HeroNotFound, InvalidHeroId),
    },
    summary="Delete a hero",
)
async def delete_hero(hero_id: HeroId, database: DatabaseDep) -> Deleted:
    """Delete the hero with this id for good; 404 if there is none."""
    await service.delete_hero(database, hero_id)
    return Deleted()
