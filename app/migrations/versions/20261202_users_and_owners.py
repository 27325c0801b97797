"""Users, their refresh tokens, and who owns each hero and team.

`user` holds each account (its password only as an argon2 hash; `username_key`, the
lower-cased name, is unique). `refresh_token` holds the SHA-256 of each refresh token,
with its family, its expiry and when it was used. `hero.owner_id` names the user who
created the hero (null for every hero before this revision, and for heroes created
without a token); deleting a user sets it to null. `team.owner_id` likewise.

On SQLite the owned tables are rebuilt (copied) both ways, keeping AUTOINCREMENT and its
record of the highest id ever handed out.

Revision ID: 0007
Revises: 0006
Created: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from app.db.migrator import rebuilt_sqlite_table
from app.db.tables import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERNAME_LENGTH = 64
OWNED_TABLES = ("hero", "team")


def _id_type() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _username_type() -> sa.types.TypeEngine[str]:
    return sa.String(USERNAME_LENGTH).with_variant(
        mysql.VARCHAR(USERNAME_LENGTH, charset="utf8mb4", collation="utf8mb4_bin"),
        "mysql",
        "mariadb",
    )


def _timestamp(name: str, *, nullable: bool = False, default: bool = True) -> sa.Column[object]:
    server_default = sa.func.current_timestamp() if default else None
    return sa.Column(name, UTCDateTime(), nullable=nullable, server_default=server_default)


def upgrade() -> None:
    op.create_table(
        "user",
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column("username", _username_type(), nullable=False),
        sa.Column("username_key", _username_type(), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("id", name="pk_user"),
        sa.UniqueConstraint("username_key", name="uq_user_username_key"),
        sqlite_autoincrement=True,
        mysql_charset="utf8mb4",
        mariadb_charset="utf8mb4",
    )
    op.create_table(
        "refresh_token",
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("family", sa.String(32), nullable=False),
        sa.Column("user_id", _id_type(), nullable=False),
        _timestamp("expires_at", default=False),
        _timestamp("used_at", nullable=True, default=False),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_token"),
        sa.UniqueConstraint("token_hash", name="uq_refresh_token_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_refresh_token_user_id_user", ondelete="CASCADE"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_refresh_token_family", "refresh_token", ["family"])
    op.create_index("ix_refresh_token_user_id", "refresh_token", ["user_id"])
    for table in OWNED_TABLES:
        add_owner(table)


def downgrade() -> None:
    for table in OWNED_TABLES:
        drop_owner(table)
    op.drop_table("refresh_token")
    op.drop_table("user")


def add_owner(table: str) -> None:
    foreign_key = f"fk_{table}_owner_id_user"
    if op.get_bind().dialect.name == "sqlite":
        with rebuilt_sqlite_table(table) as batch:
            batch.add_column(sa.Column("owner_id", _id_type(), nullable=True))
            batch.create_foreign_key(
                foreign_key, "user", ["owner_id"], ["id"], ondelete="SET NULL"
            )
    else:
        op.add_column(table, sa.Column("owner_id", _id_type(), nullable=True))
        op.create_foreign_key(
            foreign_key, table, "user", ["owner_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index(f"ix_{table}_owner_id", table, ["owner_id"])


def drop_owner(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index(f"ix_{table}_owner_id", table_name=table)
        with rebuilt_sqlite_table(table) as batch:
            batch.drop_column("owner_id")
        return
    # MariaDB keeps an index a foreign key uses until the key is gone.
    op.drop_constraint(f"fk_{table}_owner_id_user", table, type_="foreignkey")
    op.drop_index(f"ix_{table}_owner_id", table_name=table)
    op.drop_column(table, "owner_id")
