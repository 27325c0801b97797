"""The database layer: backends, the `Database` every request runs its statements through,
statements and their cache, the schema's version, and the errors the database causes.

It never imports the HTTP layer: errors leave it as plain exceptions (`DatabaseUnavailable`).
"""

from app.db.backends import backend_for, create_db_engine
from app.db.database import Columns, Database, Params, PoolUsage, Row
from app.db.errors import DatabaseUnavailable, SchemaUnavailable

__all__ = [
    "Columns",
    "Database",
    "DatabaseUnavailable",
    "Params",
    "PoolUsage",
    "Row",
    "SchemaUnavailable",
    "backend_for",
    "create_db_engine",
]
