from typing import Annotated

from fastapi import Path

from app.heroes.models import HERO_ID_MAX

HeroId = Annotated[
    int, Path(ge=-HERO_ID_MAX - 1, le=HERO_ID_MAX, description="The hero's id (64-bit).")
]
