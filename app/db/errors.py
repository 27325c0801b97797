"""What the database layer raises when the database, not the request, is at fault."""

import logging

logger = logging.getLogger("app.db")

# The driver errors that say the schema is not there: a table (or a column) the statement
# names does not exist. The database was dropped, re-created empty, or not migrated.
_MISSING_SCHEMA_SQLSTATES = frozenset({"42P01", "42703"})  # PostgreSQL: undefined table, column
_MISSING_SCHEMA_ERRNOS = frozenset({1146, 1054})  # MariaDB: no such table, unknown column
_MISSING_SCHEMA_MESSAGES = ("no such table", "no such column")  # SQLite


class DatabaseUnavailable(Exception):
    """The database could not be reached, or did not answer in time: worth a retry."""


class SchemaUnavailable(DatabaseUnavailable):
    """The database answers, but without the schema this code needs (tables gone, or at
    another revision): worth a retry once it is restored or migrated."""


def is_missing_schema(error: BaseException) -> bool:
    """Whether a driver's error (or SQLAlchemy's wrapping of one) says a table or column
    the statement names does not exist, on any of the three backends."""
    cause = getattr(error, "orig", None) or error
    if getattr(cause, "sqlstate", None) in _MISSING_SCHEMA_SQLSTATES:
        return True
    first = cause.args[0] if cause.args else None
    if isinstance(first, int):
        return first in _MISSING_SCHEMA_ERRNOS
    return isinstance(first, str) and first.startswith(_MISSING_SCHEMA_MESSAGES)


def unavailable(error: BaseException) -> DatabaseUnavailable:
    """The DatabaseUnavailable for a driver's error, logged once, here, in the driver's
    words (which never hold a password or a bound value)."""
    cause = getattr(error, "orig", None) or error
    kind = SchemaUnavailable if is_missing_schema(cause) else DatabaseUnavailable
    first_line = (str(cause).strip().splitlines() or [""])[0]  # PostgreSQL's next quote SQL
    logger.warning("%s: %s: %s", _WHAT[kind], type(cause).__name__, first_line)
    return kind()


def schema_unavailable(reason: str) -> SchemaUnavailable:
    """A SchemaUnavailable the code found itself (not a driver's error), logged once."""
    logger.warning("%s: %s", _WHAT[SchemaUnavailable], reason)
    return SchemaUnavailable()


_WHAT = {
    DatabaseUnavailable: "database unavailable",
    SchemaUnavailable: "database schema unavailable",
}
