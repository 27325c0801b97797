"""Users described once for the kit: the admins' list, and one user's row (never its hash)."""

from typing import Any

from sqlalchemy import bindparam, select, true

from app.db import Columns, Row
from app.db.statements import Statement
from app.db.tables import column
from app.kit.fields import is_id, storable_text, text_filter
from app.kit.listing.filters import Equal
from app.kit.listing.parameters import ListParameters
from app.kit.resource import VERSION_MAX, Resource, SortKey
from app.users.errors import UserNotFound
from app.users.models import USERNAME_MAX_LENGTH, StoredUser, User, Username

user_id, user_username = column(User.id), column(User.username)
user_is_admin, user_is_active = column(User.is_admin), column(User.is_active)
user_version, user_updated_at = column(User.version), column(User.updated_at)
user_key, user_hash = column(User.username_key), column(User.password_hash)
SUMMARY: Columns = (user_id, user_username, user_is_admin, user_is_active)
STORED: Columns = (*SUMMARY, column(User.created_at), user_updated_at, user_version)
"""What the service reads of a user, in StoredUser's order: never the password's hash."""

USERS = Resource(
    name="users",
    singular="user",
    table=User,
    id=user_id,
    version=user_version,
    updated_at=user_updated_at,
    summary=SUMMARY,
    stored=STORED,
    not_found=UserNotFound,
    filters={
        "username": Equal(
            user_username,
            Username,
            text_filter(
                "Only the user with exactly this username.", "deadpond", USERNAME_MAX_LENGTH
            ),
        ),
    },
    sorts={
        "id": SortKey(user_id, is_id),
        "username": SortKey(
            user_username, storable_text(USERNAME_MAX_LENGTH), note="By byte (ASCII) order."
        ),
    },
    sort_example="-id",
    version_max=VERSION_MAX,
)
USERS_LIST = ListParameters(USERS)

CALLER = Statement(
    select(user_id, user_is_admin).where(user_id == bindparam("user_id"), user_is_active == true())
)
"""Who an access token's user is now: no row if they are gone or deactivated. Read on
every request that needs a user (one primary-key read: bench/PROFILE.md)."""
CREDENTIALS = Statement(
    select(user_id, user_hash, user_is_active).where(user_key == bindparam("username_key"))
)
PASSWORD_HASH = Statement(select(user_hash, user_version).where(user_id == bindparam("user_id")))


def user_body(user: StoredUser) -> dict[str, Any]:
    """UserPublic's fields, in its order."""
    return {"id": user.id, "username": user.username, "is_admin": user.is_admin}


def summary_body(row: Row) -> dict[str, Any]:
    """A page's user, straight from its row."""
    return {"id": row[0], "username": row[1], "is_admin": row[2]}
