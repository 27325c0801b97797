"""The change log: one row per change to a hero or a team, numbered in commit order by the
one row of change_clock (README, "The change feed").

Rows that exist already get no change: their history starts with their next one.

Revision ID: 0009
Revises: 0008
Created: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "change_log",
        sa.Column("position", ID, nullable=False, autoincrement=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("row_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("changed", sa.Text(), nullable=False),
        sa.Column("kept", sa.Text(), nullable=True),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.Column("actor", ID, nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("position", name="pk_change_log"),
        sa.UniqueConstraint(
            "resource", "row_id", "version", name="uq_change_log_resource_row_id_version"
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
    )
    op.create_index("ix_change_log_resource_position", "change_log", ["resource", "position"])
    op.create_index("ix_change_log_changed_at", "change_log", ["changed_at"])
    clock = op.create_table(
        "change_clock",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("position", ID, nullable=False),
        sa.Column("horizon", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_change_clock"),
    )
    op.bulk_insert(clock, [{"id": 1, "position": 0, "horizon": 0}])


def downgrade() -> None:
    op.drop_table("change_clock")
    op.drop_index("ix_change_log_changed_at", table_name="change_log")
    op.drop_index("ix_change_log_resource_position", table_name="change_log")
    op.drop_table("change_log")
