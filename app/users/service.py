"""User use cases: each function takes the database first and is one unit of work.

A taken username is the unique constraint's decision (`ConstraintViolation`), never a
read before the write. Changing a password, deactivating a user and deleting one revoke
their refresh tokens in the same transaction as the change.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, delete, insert

from app.auth.models import REFRESH_TOKENS, RefreshToken
from app.auth.passwords import Passwords
from app.db import Database, Params, Row
from app.db.errors import ConstraintViolation
from app.db.statements import Statement
from app.db.tables import column, utc_now
from app.kit import rows
from app.kit.listing.pages import Page, fetch_page
from app.kit.listing.query import ListQuery
from app.kit.rows import Also, Change, Preconditions
from app.users.errors import UsernameTaken, WrongCurrentPassword
from app.users.models import (
    StoredUser,
    User,
    UserAdminUpdate,
    UserCreate,
    UserUpdate,
    username_key,
)
from app.users.resource import PASSWORD_HASH, USERS

UNIQUE_USERNAME = "uq_user_username_key"
USERS_TABLE = cast(Table, User.__table__)  # type: ignore[attr-defined]  # SQLModel's
REVOKE_REFRESH_TOKENS = Statement(
    delete(REFRESH_TOKENS).where(column(RefreshToken.user_id) == bindparam("user_id"))
)


async def create_user(
    database: Database, passwords: Passwords, data: UserCreate, *, is_admin: bool = False
) -> StoredUser:
    values = {
        "username": data.username,
        "username_key": username_key(data.username),
        "password_hash": await passwords.hash(data.password),
        "is_admin": is_admin,
        "is_active": True,
    }
    with _username_must_be_free():
        return StoredUser(*await rows.create_row(database, USERS, values))


def create_user_now(engine: Engine, data: UserCreate, *, is_admin: bool) -> int:
    """For the command line (`heroes users create`): the user stored through `engine`,
    hashed as sign-up hashes; its id. A taken username raises the driver's error."""
    now = utc_now()
    values = {
        "username": data.username,
        "username_key": username_key(data.username),
        "password_hash": Passwords().hash_now(data.password),
        "is_admin": is_admin,
        "is_active": True,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    with engine.begin() as connection:
        inserted = connection.execute(insert(USERS_TABLE).values(values)).inserted_primary_key
    assert inserted is not None  # noqa: S101  # an INSERT has its key
    user_id: int = inserted[0]
    return user_id


async def get_user(database: Database, user_id: int) -> StoredUser:
    return StoredUser(*await rows.get_row(database, USERS, user_id))


async def list_users(database: Database, query: ListQuery) -> Page:
    return await fetch_page(database, USERS, query)


async def update_own_account(
    database: Database, passwords: Passwords, user_id: int, changes: UserUpdate
) -> StoredUser:
    """A new username, a new password (checked against the current one), or both. The
    password is changed only if the user has not changed since it was checked, and every
    refresh token goes with the old password."""
    values: dict[str, Any] = {}
    if "username" in changes.model_fields_set:
        values |= {"username": changes.username, "username_key": username_key(changes.username)}
    expected: Preconditions | None = None
    also: tuple[Also, ...] = ()
    if "password" in changes.model_fields_set:
        version = await _check_password(database, passwords, user_id, changes.current_password)
        values["password_hash"] = await passwords.hash(changes.password)
        expected, also = Preconditions(versions=frozenset({version})), (_revoke_tokens(),)
    with _username_must_be_free():
        row = await rows.update_row(database, USERS, user_id, Change(values, expected, also))
    return StoredUser(*row)


async def update_user(database: Database, user_id: int, changes: UserAdminUpdate) -> StoredUser:
    """An admin's change: a user deactivated loses their refresh tokens with it."""
    values = changes.model_dump(exclude_unset=True)
    also = (_revoke_tokens(),) if values.get("is_active") is False else ()
    return StoredUser(*await rows.update_row(database, USERS, user_id, Change(values, None, also)))


async def delete_user(database: Database, user_id: int) -> None:
    """Their refresh tokens go with them (a cascade); the rows they owned are left
    without an owner, for admins to change."""
    await rows.delete_row(database, USERS, user_id)


async def _check_password(
    database: Database, passwords: Passwords, user_id: int, given: str | None
) -> int:
    """The user's version if `given` is their password now, else WrongCurrentPassword."""
    row = await database.fetch_one(PASSWORD_HASH, {"user_id": user_id})
    if row is None:
        raise USERS.not_found()
    if given is None or not await passwords.verify(given, row[0]):
        raise WrongCurrentPassword()
    version: int = row[1]
    return version


def _revoke_tokens() -> Also:
    return Also(REVOKE_REFRESH_TOKENS, _user_of_row)


def _user_of_row(_before: Row | None, after: Row | None) -> Params | None:
    return None if after is None else {"user_id": after[0]}


@contextmanager
def _username_must_be_free() -> Iterator[None]:
    """UsernameTaken for the unique constraint's refusal of a name already taken."""
    try:
        yield
    except ConstraintViolation as violation:
        if violation.constraint != UNIQUE_USERNAME:
            raise
        raise UsernameTaken() from None
