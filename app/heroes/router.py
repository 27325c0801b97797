from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.core.db import SessionDep
from app.core.errors import (
    BodyTooLarge,
    DatabaseUnavailable,
    InvalidInput,
    MalformedBody,
    declare,
)
from app.core.routing import StrictJSONRoute
from app.heroes import service
from app.heroes.dependencies import HeroDep, HeroId
from app.heroes.errors import HeroNotFound, InvalidHeroChanges, InvalidHeroId, InvalidPage
from app.heroes.models import HERO_ID_MAX, Hero, HeroCreate, HeroPublic, HeroUpdate

# Routes are `async def` and run each service function, which does blocking database work,
# in the thread pool: one hop per request (bench/PROFILE.md prices each hop).
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
async def create_hero(hero: HeroCreate, session: SessionDep) -> Hero:
    """Create a hero and answer it with its new id.

    Any `id` in the body, and any unknown field, is ignored: the service assigns the id.
    `secret_name` is stored and never returned.
    """
    return await run_in_threadpool(service.create_hero, session, hero)


@router.get(
    "/",
    response_model=list[HeroPublic],
    responses=declare(InvalidPage),
    summary="List heroes",
)
async def list_heroes(
    session: SessionDep,
    offset: Annotated[int, Query(ge=0, le=HERO_ID_MAX)] = 0,
    limit: Annotated[int, Query(ge=0, le=PAGE_SIZE_MAX)] = PAGE_SIZE_MAX,
) -> Sequence[Hero]:
    """Heroes in id order: paging by `offset` shows each hero once.

    `limit` is 0 to 100 (default 100); `offset` is 0 or more.
    """
    return await run_in_threadpool(service.list_heroes, session, offset=offset, limit=limit)


@router.get(
    "/{hero_id}",
    response_model=HeroPublic,
    responses=declare(HeroNotFound, InvalidHeroId),
    summary="Read a hero",
)
async def read_hero(hero: HeroDep) -> Hero:
    """The hero with this id, or 404 if there is none."""
    return hero


@router.patch(
    "/{hero_id}",
    response_model=HeroPublic,
    responses=declare(HeroNotFound, MalformedBody, BodyTooLarge, InvalidHeroChanges),
    summary="Update a hero",
)
async def update_hero(hero_id: HeroId, changes: HeroUpdate, session: SessionDep) -> Hero:
    """Change only the fields sent: `{"age": null}` clears the age, `{}` changes nothing.

    `name` and `secret_name` may be left out but not set to null.
    """
    return await run_in_threadpool(service.update_hero, session, hero_id, changes)


@router.delete(
    "/{hero_id}",
    responses={
        200: {"content": {"application/json": {"example": {"ok": True}}}},
        **declare(HeroNotFound, InvalidHeroId),
    },
    summary="Delete a hero",
)
async def delete_hero(hero_id: HeroId, session: SessionDep) -> Deleted:
    """Delete the hero with this id for good; 404 if there is none."""
    await run_in_threadpool(service.delete_hero, session, hero_id)
    return Deleted()
