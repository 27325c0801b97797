"""One row of a resource: read it, create it, and change or delete it only if it is still
at a version the client expects.

Every function runs single statements keyed by id, so racing requests resolve in the
database: of two DELETEs one removes the row and the other matches nothing (NotFound), and
a change that races a DELETE either updates the row or finds it gone. A conditional change
(`expected` versions, from If-Match) compares and sets in the same statement: of racing
writers that expect one version, exactly one wins and the others get PreconditionFailed.
Every change bumps the version and moves `updated_at`; an empty change changes nothing.

The names of the values an INSERT or UPDATE sets start with `set_`: SQLAlchemy reserves a
column's own name for itself.
"""

from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, insert, select, update

from app.db import Database, Row
from app.db.statements import STATEMENTS, Statement
from app.db.tables import utc_now
from app.errors import PreconditionFailed
from app.kit.resource import Resource

Expected = frozenset[int] | None
"""The versions a write may find its row at (empty: none will do), or None: any."""


async def get_row(database: Database, resource: Resource, row_id: int) -> Row:
    """The row's stored columns, or the resource's NotFound."""
    row = await database.fetch_one(_statements(resource).by_id, {"row_id": row_id})
    if row is None:
        raise resource.not_found()
    return row


async def create_row(database: Database, resource: Resource, values: Mapping[str, Any]) -> Row:
    """Insert a row at version 1 with `values`; its stored columns as inserted."""
    now = utc_now()
    statement = STATEMENTS.get(
        (resource.name, "insert", tuple(values)), lambda: _insert(resource, tuple(values))
    )
    params = {f"set_{name}": value for name, value in values.items()}
    params |= {"set_created_at": now, "set_updated_at": now}
    row = await database.write_returning(statement, params)
    assert row is not None  # noqa: S101  # an INSERT ... RETURNING returns its row
    return row


async def update_row(
    database: Database,
    resource: Resource,
    row_id: int,
    values: Mapping[str, Any],
    expected: Expected = None,
) -> Row:
    """Set `values` on the row; an empty change changes nothing, `updated_at` and the
    version included (its precondition is still checked)."""
    await _refuse_no_version(database, resource, row_id, expected)
    if not values:
        return _unchanged(resource, await get_row(database, resource, row_id), expected)
    slots = version_slots(len(expected)) if expected else 0
    fields = frozenset(values)
    statement = STATEMENTS.get(
        (resource.name, "update", fields, slots), lambda: _update(resource, fields, slots)
    )
    params: dict[str, Any] = {"row_id": row_id, "set_updated_at": utc_now()}
    params |= {f"set_{field}": value for field, value in values.items()}
    params |= _version_params(expected)
    row = await database.update_returning(statement, _statements(resource).by_id, params)
    if row is None:
        raise await _missing_or_changed(database, resource, row_id)
    return row


async def delete_row(
    database: Database, resource: Resource, row_id: int, expected: Expected = None
) -> None:
    await _refuse_no_version(database, resource, row_id, expected)
    slots = version_slots(len(expected)) if expected else 0
    statement = STATEMENTS.get((resource.name, "delete", slots), lambda: _delete(resource, slots))
    params = {"row_id": row_id} | _version_params(expected)
    if await database.write(statement, params) == 0:
        if expected is None:
            raise resource.not_found()
        raise await _missing_or_changed(database, resource, row_id)


def version_of(row: Row) -> int:
    """A stored row's version (its last column)."""
    version: int = row[-1]
    return version


def version_slots(versions: int) -> int:
    """How many version parameters a conditional statement takes for `versions` expected
    ones: the next power of two, so that a handful of statements serves any If-Match."""
    return 1 << (versions - 1).bit_length() if versions else 0


def _version_params(expected: Expected) -> dict[str, int]:
    """`expected` as the parameters of its slots (the last one repeated to fill them)."""
    if not expected:
        return {}
    ordered = sorted(expected)
    slots = version_slots(len(ordered))
    return {
        f"expected_version_{slot}": ordered[min(slot, len(ordered) - 1)] for slot in range(slots)
    }


async def _refuse_no_version(
    database: Database, resource: Resource, row_id: int, expected: Expected
) -> None:
    """An If-Match that names no version of this row can never match: no write is tried."""
    if expected is not None and not expected:
        raise await _missing_or_changed(database, resource, row_id)


def _unchanged(resource: Resource, row: Row, expected: Expected) -> Row:
    if expected is not None and version_of(row) not in expected:
        raise PreconditionFailed(row[0], version_of(row))
    return row


async def _missing_or_changed(database: Database, resource: Resource, row_id: int) -> Exception:
    """Why a conditional write matched no row: the row is gone (NotFound, which comes
    first: preconditions only decide between success and 412), or it has another version."""
    row = await database.fetch_one(_statements(resource).by_id, {"row_id": row_id})
    if row is None:
        return resource.not_found()
    return PreconditionFailed(row_id, version_of(row))


# --- statements --------------------------------------------------------------------------


class _Fixed:
    def __init__(self, resource: Resource) -> None:
        self.by_id = Statement(select(*resource.stored).where(_is_row(resource)))


@cache
def _statements(resource: Resource) -> _Fixed:
    return _Fixed(resource)


def _is_row(resource: Resource) -> ColumnElement[bool]:
    return resource.id == bindparam("row_id")


def _version_is_one_of(resource: Resource, slots: int) -> ColumnElement[bool]:
    parameters: list[Any] = [bindparam(f"expected_version_{slot}") for slot in range(slots)]
    return resource.version.in_(parameters)


def _insert(resource: Resource, fields: tuple[str, ...]) -> Any:
    values: dict[str, Any] = {field: bindparam(f"set_{field}") for field in fields}
    values |= {
        "created_at": bindparam("set_created_at"),
        "updated_at": bindparam("set_updated_at"),
        "version": 1,
    }
    return insert(resource.table).values(values).returning(*resource.stored)


def _update(resource: Resource, fields: frozenset[str], slots: int) -> Any:
    """The UPDATE that sets exactly `fields`, moves `updated_at` and bumps the version;
    with `slots`, only if the version is one of those parameters' (compare and set in one
    statement)."""
    values: dict[str, Any] = {field: bindparam(f"set_{field}") for field in sorted(fields)}
    values["updated_at"] = bindparam("set_updated_at")
    values["version"] = resource.version + 1
    statement = update(resource.table).where(_is_row(resource)).values(values)
    return statement.where(_version_is_one_of(resource, slots)) if slots else statement


def _delete(resource: Resource, slots: int) -> Any:
    statement = delete(resource.table).where(_is_row(resource))
    return statement.where(_version_is_one_of(resource, slots)) if slots else statement
