"""What the database layer raises when the database, not the request, is at fault."""

import logging
import re
from typing import Literal

logger = logging.getLogger("app.db")

# The driver errors that say the schema is not there: a table (or a column) the statement
# names does not exist. The database was dropped, re-created empty, or not migrated.
_MISSING_SCHEMA_SQLSTATES = frozenset({"42P01", "42703"})  # PostgreSQL: undefined table, column
_MISSING_SCHEMA_ERRNOS = frozenset({1146, 1054})  # MariaDB: no such table, unknown column
_MISSING_SCHEMA_MESSAGES = ("no such table", "no such column")  # SQLite


# Deadlocks and serialization conflicts: the database ended a transaction so that another
# could go on; running it again is what it asks for.
_RETRY_SQLSTATES = frozenset({"40P01", "40001"})  # PostgreSQL
_RETRY_ERRNOS = frozenset({1213})  # MariaDB: deadlock found when trying to get lock

_UNIQUE_SQLSTATE, _FOREIGN_KEY_SQLSTATE = "23505", "23503"  # PostgreSQL
_UNIQUE_ERRNOS = frozenset({1062})  # MariaDB: duplicate entry
_FOREIGN_KEY_ERRNOS = frozenset({1451, 1452})  # MariaDB: parent row in use, no parent row
_MARIADB_KEY = re.compile(r"for key '(?:[^']*\.)?([^'.]+)'")
_MARIADB_CONSTRAINT = re.compile(r"CONSTRAINT `([^`]+)`")
_SQLITE_UNIQUE = re.compile(r"^UNIQUE constraint failed: (\w+)\.(\w+)((?:, \w+\.\w+)*)$")

ConstraintKind = Literal["unique", "foreign_key"]


class ConstraintViolation(Exception):
    """A unique or foreign-key constraint refused a write: the request's fault, and the
    database's decision. `constraint` is its name as the naming convention in
    app/db/tables.py spells it, or None where the database does not say (SQLite's foreign
    keys)."""

    def __init__(self, kind: ConstraintKind, constraint: str | None) -> None:
        super().__init__(f"{kind} constraint {constraint or '(unnamed)'} refused the write")
        self.kind: ConstraintKind = kind
        self.constraint = constraint


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


def constraint_violation(error: BaseException) -> ConstraintViolation | None:
    """The ConstraintViolation a driver's error (or SQLAlchemy's wrapping of one) reports,
    on any of the three backends, or None if it reports something else."""
    cause = getattr(error, "orig", None) or error
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate in (_UNIQUE_SQLSTATE, _FOREIGN_KEY_SQLSTATE):
        kind: ConstraintKind = "unique" if sqlstate == _UNIQUE_SQLSTATE else "foreign_key"
        diag = getattr(cause, "diag", None)
        return ConstraintViolation(kind, getattr(diag, "constraint_name", None))
    first = cause.args[0] if cause.args else None
    message = str(cause.args[1]) if len(cause.args) > 1 else ""
    if first in _UNIQUE_ERRNOS:
        return ConstraintViolation("unique", _first_group(_MARIADB_KEY, message))
    if first in _FOREIGN_KEY_ERRNOS:
        return ConstraintViolation("foreign_key", _first_group(_MARIADB_CONSTRAINT, message))
    return _sqlite_violation(first) if isinstance(first, str) else None


def is_deadlock(error: BaseException) -> bool:
    """Whether the database ended the transaction to break a deadlock (or a serialization
    conflict): a transaction worth running again."""
    cause = getattr(error, "orig", None) or error
    if getattr(cause, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    first = cause.args[0] if cause.args else None
    return isinstance(first, int) and first in _RETRY_ERRNOS


def _sqlite_violation(message: str) -> ConstraintViolation | None:
    if message == "FOREIGN KEY constraint failed":
        return ConstraintViolation("foreign_key", None)
    unique = _SQLITE_UNIQUE.match(message)
    if unique is None:
        return None
    # "team.name" or "t.a, t.b": the columns of the unique constraint named by convention.
    table, first_column, more = unique.groups()
    columns = [first_column, *(part.split(".")[1] for part in more.split(", ")[1:])]
    return ConstraintViolation("unique", f"uq_{table}_{'_'.join(columns)}")


def _first_group(pattern: re.Pattern[str], message: str) -> str | None:
    found = pattern.search(message)
    return found.group(1) if found else None
