"""Create the hero table, as the models described it before migrations existed.

Revision ID: 0001
Revises:
Created: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hero",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("age", sa.Integer(), nullable=True),
        # SQLite only auto-increments a column declared exactly INTEGER.
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("secret_name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hero")),
        sqlite_autoincrement=True,
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
    )
    op.create_index(op.f("ix_hero_name"), "hero", ["name"])
    op.create_index(op.f("ix_hero_age"), "hero", ["age"])


def downgrade() -> None:
    op.drop_index(op.f("ix_hero_age"), table_name="hero")
    op.drop_index(op.f("ix_hero_name"), table_name="hero")
    op.drop_table("hero")
