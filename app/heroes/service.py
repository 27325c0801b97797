"""Hero use cases: each function takes the database first and is one unit of work, made of
single statements keyed by id (app/kit/rows.py says how races resolve).

The service sets the timestamps and bumps the version on every change; a conditional
change or delete (`expected` versions, from If-Match) compares and sets in the same
statement.
"""

from app.db import Database
from app.heroes.models import HeroCreate, HeroUpdate, StoredHero
from app.heroes.resource import HEROES
from app.kit import rows
from app.kit.listing.pages import Page, fetch_page
from app.kit.listing.query import ListQuery
from app.kit.rows import Expected


async def create_hero(
    database: Database, data: HeroCreate, owner_id: int | None = None
) -> StoredHero:
    """`owner_id`: the signed-in user creating it, if any."""
    values = data.model_dump(include={"name", "secret_name", "age"})
    if owner_id is not None:
        values["owner_id"] = owner_id
    return StoredHero(*await rows.create_row(database, HEROES, values))


async def get_hero(database: Database, hero_id: int) -> StoredHero:
    return StoredHero(*await rows.get_row(database, HEROES, hero_id))


async def list_heroes(database: Database, query: ListQuery) -> Page:
    """A page of heroes as the query asks, with their total if it asks for one."""
    return await fetch_page(database, HEROES, query)


async def update_hero(
    database: Database, hero_id: int, changes: HeroUpdate, expected: Expected = None
) -> StoredHero:
    """Only the fields sent change; an empty PATCH changes nothing."""
    values = changes.model_dump(exclude_unset=True)
    return StoredHero(
        *await rows.update_row(database, HEROES, hero_id, rows.Change(values, expected))
    )


async def delete_hero(database: Database, hero_id: int, expected: Expected = None) -> None:
    await rows.delete_row(database, HEROES, hero_id, expected)
