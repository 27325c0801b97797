from sqlalchemy import literal_column, select

from app.db import Database
from app.db.statements import Statement

PING = Statement(select(literal_column("1")))


async def check_database(database: Database) -> None:
    """One round trip, the way requests reach the database; raises when it cannot answer."""
    await database.fetch_one(PING, {})
