"""What every table model shares: stable constraint names and UTC timestamps.

Imported before any table model is defined, so that the naming convention applies to every
index and constraint, and migrations can name them without asking the database.
"""

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, String, func, text
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel, col

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",  # what SQLModel's `index=True` gave before migrations
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


# SQLite only auto-increments a column declared exactly INTEGER (64-bit there anyway).
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")
"""Every table's id, and every column that refers to one."""


def code_point_text(length: int) -> TypeEngine[str]:
    """Text that compares and sorts by code point on every backend: SQLite's default
    collation does; PostgreSQL's "C" does; MariaDB's utf8mb4_bin would pad spaces ("a"
    would equal "a "), its utf8mb4_nopad_bin does not."""
    return (
        String(length)
        .with_variant(String(length, collation="C"), "postgresql")
        .with_variant(
            mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_nopad_bin"),
            "mysql",
            "mariadb",
        )
    )


def column(attribute: Any) -> ColumnElement[Any]:
    """A table model's attribute as the column it is in SQL (SQLModel types them as
    plain values)."""
    return cast(ColumnElement[Any], col(attribute))


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in, an aware UTC datetime out, on every backend.

    PostgreSQL stores the instant (timestamptz). SQLite and MariaDB store no offset, so
    values are written as naive UTC and read back with UTC attached. MariaDB keeps
    microseconds (DATETIME(6)) so a value reads back as it was written.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in {"mysql", "mariadb"}:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime has no instant: give it a time zone")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The columns the kit keeps on every table (app/kit/rows.py): each table model declares
# them with these, so that they are alike everywhere.


def id_field() -> Any:
    return Field(default=None, primary_key=True, sa_type=ID_TYPE)


def timestamp_field() -> Any:
    """`created_at` or `updated_at`: the service sets both; the database's default covers
    rows written by other tools."""
    return Field(
        default_factory=utc_now,
        sa_type=UTCDateTime,
        sa_column_kwargs={"server_default": func.current_timestamp()},
    )


def version_field() -> Any:
    """Bumped by every change: the row's ETag names it and If-Match compares it."""
    return Field(default=1, sa_column_kwargs={"server_default": text("1")})
