from app.db import Database
from app.db.schema import check_schema


async def check_database(database: Database) -> None:
    """One round trip, the way requests reach the database, that also finds the schema the
    code needs there; raises DatabaseUnavailable when it cannot answer or has not."""
    await check_schema(database)
