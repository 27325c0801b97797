from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.core.database import DatabaseDep
from app.core.errors import BodyTooLarge, DatabaseUnavailable, MalformedBody, declare
from app.core.responses import FastJSONResponse
from app.core.routing import StrictJSONRoute
from app.heroes import service
from app.heroes.dependencies import HeroDep, HeroId
from app.heroes.errors import HeroNotFound
from app.heroes.models import HERO_ID_MAX, HeroCreate, HeroPublic, HeroUpdate

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
    responses=declare(MalformedBody, BodyTooLarge),
    summary="Create a hero",
)
async def create_hero(hero: HeroCreate, database: DatabaseDep) -> HeroPublic:
    """Create a hero. Any `id` in the body is ignored: the service assigns one."""
    return await service.create_hero(database, hero)


@router.get("/", response_model=list[HeroPublic], summary="List heroes")
async def list_heroes(
    database: DatabaseDep,
    offset: Annotated[int, Query(ge=0, le=HERO_ID_MAX)] = 0,
    limit: Annotated[int, Query(ge=0, le=PAGE_SIZE_MAX)] = PAGE_SIZE_MAX,
) -> FastJSONResponse:
    """Heroes in id order: paging by `offset` shows each hero once."""
    return FastJSONResponse(await service.list_heroes(database, offset=offset, limit=limit))


@router.get(
    "/{hero_id}",
    response_model=HeroPublic,
    responses=HeroNotFound.responses(),
    summary="Read a hero",
)
async def read_hero(hero: HeroDep) -> HeroPublic:
    return hero


@router.patch(
    "/{hero_id}",
    response_model=HeroPublic,
    responses=declare(HeroNotFound, MalformedBody, BodyTooLarge),
    summary="Update a hero",
)
async def update_hero(hero_id: HeroId, changes: HeroUpdate, database: DatabaseDep) -> HeroPublic:
    """Change only the fields sent: `{"age": null}` clears the age, `{}` changes nothing."""
    return await service.update_hero(database, hero_id, changes)


@router.delete("/{hero_id}", responses=HeroNotFound.responses(), summary="Delete a hero")
async def delete_hero(hero_id: HeroId, database: DatabaseDep) -> Deleted:
    await service.delete_hero(database, hero_id)
    return Deleted()
