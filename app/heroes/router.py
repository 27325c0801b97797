from typing import Annotated

from fastapi import APIRouter, Query
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
from app.heroes.models import HERO_ID_MAX, HeroCreate, HeroPublic, HeroUpdate
from app.heroes.responses import ExtraFields, hero_response, heroes_response, requested

# Routes are `async def` and await the service: the data-access layer decides, per backend,
# what runs on the event loop and what on a thread (app/core/database, bench/PROFILE.md).
router = APIRouter(
    prefix="/heroes",
    tags=["heroes"],
    route_class=StrictJSONRoute,
    responses=DatabaseUnavailable.responses(),
)

PAGE_SIZE_MAX = 100


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
async def list_heroes(
    database: DatabaseDep,
    offset: Annotated[int, Query(ge=0, le=HERO_ID_MAX)] = 0,
    limit: Annotated[int, Query(ge=0, le=PAGE_SIZE_MAX)] = PAGE_SIZE_MAX,
    fields: ExtraFields = None,
) -> FastJSONResponse:
    """Heroes in id order: paging by `offset` shows each hero once.

    `limit` is 0 to 100 (default 100); `offset` is 0 or more. `fields` adds timestamps.
    """
    extra = requested(fields)
    heroes = await service.list_heroes(
        database, offset=offset, limit=limit, timestamps=bool(extra)
    )
    return heroes_response(heroes, extra)


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
