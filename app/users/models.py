"""The user model family: User (table), UserCreate, UserPublic, UserUpdate, UserAdminUpdate.

A user's password is kept only as its argon2 hash (app/auth/passwords.py), which no model
that answers a request holds. Usernames keep the case they were given and are unique
regardless of it: `username_key`, the lower-cased name, carries the unique constraint, so
that the database alone decides who took a name (a taken one is a 409).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, StringConstraints
from sqlalchemy import String, text
from sqlalchemy.dialects import mysql
from sqlmodel import Field, SQLModel

from app.db.tables import ID_TYPE, id_field, timestamp_field, version_field
from app.http.responses import ANSWER_CONFIG

USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 64
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 1024
PASSWORD_HASH_MAX_LENGTH = 255
# ASCII letters and digits and `.`, `_`, `-`, `@`, `+`: case folds the same way in Python
# and in every database, and a name can be typed into a URL, a shell and a form alike.
USERNAME_PATTERN = r"^[A-Za-z0-9._@+-]+$"

Username = Annotated[
    str,
    StringConstraints(
        min_length=USERNAME_MIN_LENGTH,
        max_length=USERNAME_MAX_LENGTH,
        pattern=USERNAME_PATTERN,
    ),
]
# Any characters (a passphrase may hold spaces and emoji), none of them NUL; the upper
# bound keeps hashing a password cheap enough that it cannot be a denial of service.
Password = Annotated[
    str,
    StringConstraints(
        min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH, pattern=r"^[^\u0000]*$"
    ),
]

# Names compare by byte on MariaDB, as on the others (a unique key must not pad spaces).
_USERNAME_TYPE = String(USERNAME_MAX_LENGTH).with_variant(
    mysql.VARCHAR(USERNAME_MAX_LENGTH, charset="utf8mb4", collation="utf8mb4_bin"),
    "mysql",
    "mariadb",
)


def username_key(username: str) -> str:
    """What makes two usernames the same one: their letters' case does not count."""
    return username.lower()


class User(SQLModel, table=True):
    # AUTOINCREMENT: SQLite would otherwise hand a deleted user's id to the next one, and
    # with it the rows the deleted user owned, had they not been released.
    __table_args__ = (
        {
            "sqlite_autoincrement": True,
            "mysql_charset": "utf8mb4",
            "mariadb_charset": "utf8mb4",
        },
    )

    id: int | None = id_field()
    username: str = Field(sa_type=_USERNAME_TYPE)
    username_key: str = Field(sa_type=_USERNAME_TYPE, unique=True)
    password_hash: str = Field(max_length=PASSWORD_HASH_MAX_LENGTH)
    is_admin: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = version_field()


class UserCreate(SQLModel):
    username: Username = Field(
        description=(
            "3 to 64 characters: ASCII letters, digits and `._@+-`. Unique regardless of case."
        ),
        schema_extra={"examples": ["deadpond"]},
    )
    password: Password = Field(
        description="8 to 1024 characters; stored only as an argon2 hash, never returned.",
        schema_extra={"examples": ["correct horse battery staple"]},
    )


class UserPublic(SQLModel):
    model_config = ANSWER_CONFIG  # type: ignore[assignment]  # SQLModel's own ConfigDict type
    id: int = Field(description="Assigned by the service.", schema_extra={"examples": [1]})
    username: str = Field(schema_extra={"examples": ["deadpond"]})
    is_admin: bool = Field(schema_extra={"examples": [False]})


class UserUpdate(SQLModel):
    """A user's own changes. A new password needs the current one, and signs out every
    other session (every refresh token is revoked)."""

    model_config = ConfigDict(  # type: ignore[assignment]  # SQLModel's own ConfigDict type
        json_schema_extra={
            "examples": [{"current_password": "correct horse battery staple", "password": "x"}]
        }
    )

    username: Username = Field(default=None, description="A new username.")
    password: Password = Field(default=None, description="A new password.")
    current_password: Annotated[str, StringConstraints(max_length=PASSWORD_MAX_LENGTH)] = Field(
        default=None, description="The password now: needed to set a new one."
    )


class UserAdminUpdate(SQLModel):
    """What an admin changes of a user: a deactivated user's tokens stop working at once."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"is_active": False}]})  # type: ignore[assignment]

    is_admin: bool = Field(default=None, description="Whether the user is an admin.")
    is_active: bool = Field(
        default=None, description="false: the user can no longer sign in or use a token."
    )


@dataclass(slots=True)
class StoredUser:
    """A user as the service reads one back (never the hash): UserPublic's fields, then the
    timestamps and version."""

    id: int
    username: str
    is_admin: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime
    version: int


def owner_field() -> Any:
    """A row's owner: the signed-in user who created it, or None; never in its body. A
    deleted user's rows are left to the admins (migration 0007)."""
    return Field(
        default=None, sa_type=ID_TYPE, foreign_key="user.id", ondelete="SET NULL", index=True
    )
