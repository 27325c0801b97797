from typing import Annotated

from fastapi import Depends, Path

from app.core.database import DatabaseDep
from app.heroes import service
from app.heroes.models import HERO_ID_MAX, StoredHero

HeroId = Annotated[
    int, Path(ge=-HERO_ID_MAX - 1, le=HERO_ID_MAX, description="The hero's id (64-bit).")
]


async def get_hero(hero_id: HeroId, database: DatabaseDep) -> StoredHero:
    return await service.get_hero(database, hero_id)


HeroDep = Annotated[StoredHero, Depends(get_hero)]
