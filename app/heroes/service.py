"""Hero use cases: the rules, on top of the statements in `queries`.

Each function takes the database first and runs single statements keyed by id, so racing
requests resolve in the database: of two DELETEs one removes the row and the other matches
nothing (404), and a PATCH that races a DELETE either updates the row or finds it gone
(404). A PATCH answers with the row as its own UPDATE left it, never a later state.
"""

from app.core.database import Database, Row
from app.heroes import queries
from app.heroes.errors import HeroNotFound
from app.heroes.models import HeroCreate, HeroPublic, HeroPublicRow, HeroUpdate


async def create_hero(database: Database, data: HeroCreate) -> HeroPublic:
    params = {"set_name": data.name, "set_secret_name": data.secret_name, "set_age": data.age}
    row = await database.write_returning(queries.insert_hero, params)
    assert row is not None  # noqa: S101  # an INSERT ... RETURNING returns its row
    return _public((row[0], data.name, data.age))


async def get_hero(database: Database, hero_id: int) -> HeroPublic:
    return _found(await database.fetch_one(queries.by_id, {"hero_id": hero_id}))


async def list_heroes(database: Database, *, offset: int, limit: int) -> list[HeroPublicRow]:
    rows = await database.fetch_all(queries.page_by_id, {"offset": offset, "limit": limit})
    return [{"name": name, "age": age, "id": hero_id} for hero_id, name, age in rows]


async def update_hero(database: Database, hero_id: int, changes: HeroUpdate) -> HeroPublic:
    values = changes.model_dump(exclude_unset=True)
    if not values:
        return await get_hero(database, hero_id)
    statement = queries.update_by_id(frozenset(values))
    params = {"hero_id": hero_id} | {f"set_{field}": value for field, value in values.items()}
    row = await database.update_returning(statement, queries.PUBLIC_COLUMNS, params)
    return _found(row)


async def delete_hero(database: Database, hero_id: int) -> None:
    if await database.write(queries.delete_by_id, {"hero_id": hero_id}) == 0:
        raise HeroNotFound()


def _found(row: Row | None) -> HeroPublic:
    if row is None:
        raise HeroNotFound()
    return _public(row)


def _public(row: Row) -> HeroPublic:
    hero_id, name, age = row
    return HeroPublic.model_construct(id=hero_id, name=name, age=age)  # stored: valid
