from typing import Annotated

from fastapi import Depends, Header, Path, Request

from app.core.conditional import EntityTags, PreconditionRequired, parse_entity_tags
from app.core.database import DatabaseDep
from app.heroes import service
from app.heroes.models import HERO_ID_MAX, StoredHero

HeroId = Annotated[
    int, Path(ge=-HERO_ID_MAX - 1, le=HERO_ID_MAX, description="The hero's id (64-bit).")
]


async def get_hero(hero_id: HeroId, database: DatabaseDep) -> StoredHero:
    return await service.get_hero(database, hero_id)


HeroDep = Annotated[StoredHero, Depends(get_hero)]

IF_MATCH_MAX_LENGTH = 1024

IfMatchHeader = Annotated[
    str | None,
    Header(
        max_length=IF_MATCH_MAX_LENGTH,
        description=(
            "Change the hero only if it still has this ETag (or one of these); otherwise "
            "412 with the current ETag. `*` matches any existing hero."
        ),
        examples=['"1.1"'],
    ),
]


def if_match(request: Request, if_match: IfMatchHeader = None) -> EntityTags | None:
    """The tags of If-Match (none, if unreadable: such a write is refused, not made
    unconditional), or None without the header, unless the deployment requires it."""
    if if_match is None:
        if request.app.state.settings.require_if_match:
            raise PreconditionRequired()
        return None
    return parse_entity_tags(if_match) or EntityTags()


IfMatchDep = Annotated[EntityTags | None, Depends(if_match)]
