from sqlalchemy import Select, literal_column, select

from app.core.database import Database

PING: Select[tuple[int]] = select(literal_column("1"))


async def check_database(database: Database) -> None:
    """One round trip, the way requests reach the database; raises when it cannot answer."""
    await database.fetch_one(PING, {})
