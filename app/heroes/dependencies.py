from typing import Annotated

from fastapi import Depends, Path
from starlette.concurrency import run_in_threadpool

from app.core.db import SessionDep
from app.heroes import service
from app.heroes.models import HERO_ID_MAX, Hero

HeroId = Annotated[
    int, Path(ge=-HERO_ID_MAX - 1, le=HERO_ID_MAX, description="The hero's id (64-bit).")
]


async def get_hero(hero_id: HeroId, session: SessionDep) -> Hero:
    return await run_in_threadpool(service.get_hero, session, hero_id)


HeroDep = Annotated[Hero, Depends(get_hero)]
