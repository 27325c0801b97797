"""The change log's tables: one row per change, and the clock that numbers them.

A write inserts its changes unnumbered, in its own transaction: each gets a `seq` from
the table's own sequence, drawn before commit, so not in commit order, and no `position`.
Once committed, they are numbered by the sequencer (sequencer.py): a short transaction of
its own that takes the clock's row lock and gives every change committed and still
unnumbered a position above the clock's, then moves the clock past them. Rounds take
turns on that lock, and each numbers only changes already committed, so positions only
ever grow with the rounds, and none is given below one a reader may have seen: a follower
that has seen position P has seen every change numbered at or below it (README, "The
change feed"). Writers never wait on the clock.
"""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import DDL, Index, Text, UniqueConstraint, event, text
from sqlmodel import Field, SQLModel

from app.db.tables import ID_TYPE, UTCDateTime

RESOURCE_MAX_LENGTH = 32
OP_MAX_LENGTH = 8
REQUEST_ID_MAX_LENGTH = 128
KEY_MAX_LENGTH = 255
CLOCK_ID = 1  # the clock's one row
PENDING_INDEX = "ix_change_log_pending"
PENDING_INDEXED_ON = ("postgresql", "sqlite")  # the databases that need it and have partial ones
POSITION_INDEX = "ix_change_log_position"  # PostgreSQL's, for the unique constraint elsewhere
POSITION_INDEXED_ON = ("postgresql",)
POSITION_UNIQUE_ON = ("sqlite", "mysql", "mariadb")
_UNNUMBERED = text("position IS NULL")
_NUMBERED = text("position IS NOT NULL")
MADE_ON = {
    ("index", PENDING_INDEX): PENDING_INDEXED_ON,
    ("index", POSITION_INDEX): POSITION_INDEXED_ON,
    ("unique_constraint", "uq_change_log_position"): POSITION_UNIQUE_ON,
}
"""The schema objects made only on some databases (by kind and name), and which."""

_TEXT_TABLE = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mariadb_charset": "utf8mb4",
    "mariadb_collate": "utf8mb4_bin",
}


class ChangeRecord(SQLModel, table=True):
    __tablename__ = "change_log"  # not "change": a reserved word of MariaDB
    # The unique key is what keeps a row's versions from being reused: a restore that
    # raced another one for the same version is refused by it.
    __table_args__ = (
        UniqueConstraint("resource", "row_id", "version"),
        # On PostgreSQL the indexes of positions leave the unnumbered changes out (migration
        # 0012 says why); the others keep the unique constraint they had.
        UniqueConstraint("position").ddl_if(dialect=POSITION_UNIQUE_ON),  # type: ignore[arg-type]  # a tuple works too
        Index(POSITION_INDEX, "position", unique=True, postgresql_where=_NUMBERED).ddl_if(
            dialect=POSITION_INDEXED_ON  # type: ignore[arg-type]  # a tuple works too
        ),
        Index(
            "ix_change_log_resource_position", "resource", "position", postgresql_where=_NUMBERED
        ),
        Index("ix_change_log_changed_at", "changed_at"),
        # The changes a round of the sequencer numbers (migration 0011 says why).
        Index(PENDING_INDEX, "seq", postgresql_where=_UNNUMBERED, sqlite_where=_UNNUMBERED).ddl_if(
            dialect=PENDING_INDEXED_ON  # type: ignore[arg-type]  # a tuple works too
        ),
        _TEXT_TABLE | {"sqlite_autoincrement": True},  # a seq is never handed out twice
    )

    # Drawn as the change is inserted: orders the changes one round numbers (a row's
    # changes are inserted one after another, under its lock, so they keep their order).
    seq: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    position: int | None = Field(default=None, sa_type=ID_TYPE)  # None until numbered
    resource: str = Field(max_length=RESOURCE_MAX_LENGTH)
    row_id: int = Field(sa_type=ID_TYPE)
    version: int
    op: str = Field(max_length=OP_MAX_LENGTH)  # create, update, delete or restore
    data: str = Field(sa_type=Text)  # the row's public fields after the change, as JSON
    changed: str = Field(sa_type=Text)  # the public fields the write set, a JSON list
    # A deleted row's fields that are never public (a hero's secret_name, its owner), as
    # JSON, so that a restore can bring the whole row back. Never answered to anyone.
    kept: str | None = Field(default=None, sa_type=Text)
    changed_at: datetime = Field(sa_type=UTCDateTime)
    actor: int | None = Field(default=None, sa_type=ID_TYPE)  # the signed-in user, if any
    request_id: str | None = Field(default=None, max_length=REQUEST_ID_MAX_LENGTH)
    idempotency_key: str | None = Field(default=None, max_length=KEY_MAX_LENGTH)


class ChangeClock(SQLModel, table=True):
    __tablename__ = "change_clock"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    position: int = Field(sa_type=ID_TYPE)  # the last position given
    # Changes at or below this position may have been purged (CHANGES_RETENTION): a
    # follower behind it has missed some and must list again (410).
    horizon: int = Field(sa_type=ID_TYPE)


# The clock's one row comes with its table, also where tables are made by
# `SQLModel.metadata.create_all` rather than by the migrations (which insert it themselves):
# the SQLModel tutorial's tests make theirs so.
event.listen(
    ChangeClock.__table__,  # type: ignore[attr-defined]  # SQLModel's table
    "after_create",
    DDL("INSERT INTO change_clock (id, position, horizon) VALUES (1, 0, 0)"),  # type: ignore[no-untyped-call]  # SQLAlchemy's DDL
)


def compared_on(dialect: str) -> Callable[..., bool]:
    """Alembic's `include_object` for a database of this dialect: whether the models and
    the database are compared on an object; not on one made only on other databases."""

    def included(_item: object, name: str | None, kind: str, *_: object) -> bool:
        return dialect in MADE_ON.get((kind, name or ""), (dialect,))

    return included
