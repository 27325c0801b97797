"""Hero use cases: the rules, on top of the statements in `queries`.

Each function takes the database first and runs single statements keyed by id, so racing
requests resolve in the database: of two DELETEs one removes the row and the other matches
nothing (404), and a PATCH that races a DELETE either updates the row or finds it gone
(404). A PATCH answers with the row as its own UPDATE left it, never a later state.
The service sets the timestamps: both on create, `updated_at` on every change, and bumps
the version on every change. A conditional PATCH or DELETE (`expected` versions, from
If-Match) compares and sets in the same statement: of racing writers that expect one
version, exactly one wins and the others get 412.
"""

from typing import Any

from app.core.conditional import PreconditionFailed
from app.core.database import Database, Row
from app.core.errors import AppError
from app.core.models import utc_now
from app.heroes import listing_sql, queries
from app.heroes.errors import HeroNotFound
from app.heroes.etags import hero_etag
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
    return StoredHero(row[0], data.name, data.age, now, now, version=1)


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


async def update_hero(
    database: Database,
    hero_id: int,
    changes: HeroUpdate,
    expected: frozenset[int] | None = None,
) -> StoredHero:
    """Only the fields sent change; an empty PATCH changes nothing, `updated_at` and the
    version included (its precondition is still checked)."""
    await _refuse_no_version(database, hero_id, expected)
    values = changes.model_dump(exclude_unset=True)
    if not values:
        return _unchanged(await get_hero(database, hero_id), expected)
    statement = queries.update_by_id(frozenset(values), _slots(expected))
    params: dict[str, Any] = {"hero_id": hero_id, "set_updated_at": utc_now()}
    params |= {f"set_{field}": value for field, value in values.items()}
    params |= _version_params(expected)
    row = await database.update_returning(statement, queries.by_id, params)
    if row is None:
        raise await _missing_or_changed(database, hero_id)
    return StoredHero(*row)


async def delete_hero(
    database: Database, hero_id: int, expected: frozenset[int] | None = None
) -> None:
    await _refuse_no_version(database, hero_id, expected)
    statement = (
        queries.delete_by_id_if_version(_slots(expected)) if expected else queries.delete_by_id
    )
    if await database.write(statement, {"hero_id": hero_id} | _version_params(expected)) == 0:
        raise HeroNotFound() if expected is None else await _missing_or_changed(database, hero_id)


async def _refuse_no_version(
    database: Database, hero_id: int, expected: frozenset[int] | None
) -> None:
    """An If-Match that names no version of this hero can never match: no write is tried."""
    if expected is not None and not expected:
        raise await _missing_or_changed(database, hero_id)


def _slots(expected: frozenset[int] | None) -> int:
    return queries.version_slots(len(expected)) if expected else 0


def _version_params(expected: frozenset[int] | None) -> dict[str, int]:
    return queries.version_params(expected) if expected else {}


def _unchanged(hero: StoredHero, expected: frozenset[int] | None) -> StoredHero:
    if expected is not None and hero.version not in expected:
        raise PreconditionFailed(hero_etag(hero))
    return hero


async def _missing_or_changed(database: Database, hero_id: int) -> AppError:
    """Why a conditional write matched no row: the hero is gone (404, which comes first:
    preconditions only decide between success and 412), or it has another version."""
    current = await database.fetch_one(queries.by_id, {"hero_id": hero_id})
    if current is None:
        return HeroNotFound()
    return PreconditionFailed(hero_etag(StoredHero(*current)))


def _found(row: Row | None) -> StoredHero:
    if row is None:
        raise HeroNotFound()
    return StoredHero(*row)
