"""Hero use cases: each function takes the database first and is one unit of work, made of
single statements keyed by id (app/kit/rows.py says how races resolve).

The service sets the timestamps and bumps the version on every change; a conditional
change or delete (`expected` versions, from If-Match) compares and sets in the same
statement.
"""

from collections.abc import Sequence

from app.db import Database
from app.heroes.models import HeroCreate, HeroUpdate, StoredHero
from app.heroes.resource import HEROES
from app.kit import rows
from app.kit.listing.pages import Page, fetch_page
from app.kit.listing.query import ListQuery
from app.kit.rows import Also, Expected


async def create_hero(
    database: Database, data: HeroCreate, also: Sequence[Also] = ()
) -> StoredHero:
    """`also`: steps run in the INSERT's transaction (an Idempotency-Key's answer)."""
    values = data.model_dump(include={"name", "secret_name", "age"})
    return StoredHero(*await rows.create_row(database, HEROES, values, also))


async def get_hero(database: Database, hero_id: int) -> StoredHero:
    return StoredHero(*await rows.get_row(database, HEROES, hero_id))


async def list_heroes(database: Database, query: ListQuery) -> Page:
    """A page of heroes as the query asks, with their total if it asks for one."""
    return await fetch_page(database, HEROES, query)


async def update_hero(
    database: Database,
    hero_id: int,
    changes: HeroUpdate,
    expected: Expected = None,
    also: Sequence[Also] = (),
) -> StoredHero:
    """Only the fields sent change; an empty PATCH changes nothing (and runs no `also`)."""
    values = changes.model_dump(exclude_unset=True)
    change = rows.Change(values, expected, also)
    return StoredHero(*await rows.update_row(database, HEROES, hero_id, change))


async def delete_hero(database: Database, hero_id: int, expected: Expected = None) -> None:
    await rows.delete_row(database, HEROES, hero_id, expected)
