"""Hero use cases: the rules, on top of the statements in `queries`.

Each function takes the database first and runs single statements keyed by id, so racing
requests resolve in the database: of two DELETEs one removes the row and the other matches
nothing (404), and a PATCH that races a DELETE either updates the row or finds it gone
(404). A PATCH answers with the row as its own UPDATE left it, never a later state.
The service sets the timestamps: both on create, `updated_at` on every change.
"""

from app.core.database import Database, Row
from app.core.models import utc_now
from app.heroes import listing_sql, queries
from app.heroes.errors import HeroNotFound
from app.heroes.listing import Filters, ListQuery
from app.heroes.models import HeroCreate, HeroSummary, HeroUpdate, StoredHero


async def create_hero(database: Database, data: HeroCreate) -> StoredHero:
    now = utc_now()
    params = {
        "set_name": data.name,
        "set_secret_name": data.secret_name,
        "set_age": data.age,
        "set_created_at": now,
        "set_updated_at": now,
    }
    row = await database.write_returning(queries.insert_hero, params)
    assert row is not None  # noqa: S101  # an INSERT ... RETURNING returns its row
    return StoredHero(row[0], data.name, data.age, now, now)


async def get_hero(database: Database, hero_id: int) -> StoredHero:
    return _found(await database.fetch_one(queries.by_id, {"hero_id": hero_id}))


async def list_heroes(database: Database, query: ListQuery) -> list[HeroSummary]:
    """A page of heroes as the query asks: StoredHeroes if it asks for timestamps."""
    statement, params = listing_sql.page(query)
    rows = await database.fetch_all(statement, params)
    if query.cursor is not None and query.cursor.before:
        rows.reverse()  # read backwards from the cursor
    if query.extra:
        return [StoredHero(*row) for row in rows]
    return [HeroSummary(*row) for row in rows]


async def count_heroes(database: Database, filters: Filters) -> int:
    """How many heroes match the filters, whatever the page."""
    statement, params = listing_sql.count(filters)
    row = await database.fetch_one(statement, params)
    assert row is not None  # noqa: S101  # COUNT(*) always answers one row
    return int(row[0])


async def update_hero(database: Database, hero_id: int, changes: HeroUpdate) -> StoredHero:
    """Only the fields sent change; an empty PATCH changes nothing, `updated_at` included."""
    values = changes.model_dump(exclude_unset=True)
    if not values:
        return await get_hero(database, hero_id)
    statement = queries.update_by_id(frozenset(values))
    params = {"hero_id": hero_id, "set_updated_at": utc_now()}
    params |= {f"set_{field}": value for field, value in values.items()}
    row = await database.update_returning(statement, queries.STORED_COLUMNS, params)
    return _found(row)


async def delete_hero(database: Database, hero_id: int) -> None:
    if await database.write(queries.delete_by_id, {"hero_id": hero_id}) == 0:
        raise HeroNotFound()


def _found(row: Row | None) -> StoredHero:
    if row is None:
        raise HeroNotFound()
    return StoredHero(*row)
