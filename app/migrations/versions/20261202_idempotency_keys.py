"""The idempotency_key table: a claim while a write with an Idempotency-Key runs, then its
answer, kept until the key expires (README, "Retry-safe writes").

Revision 0008 follows the teams (0006) and users (0007) migrations; it is written against
0006 until users land, and re-chained to 0007 then.

Revision ID: 0008
Revises: 0007
Created: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_LENGTH = 255
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Timezone-aware UTC; MariaDB's DATETIME keeps no offset, and microseconds only when asked.
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
BODY = sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")


def code_point_text() -> sa.types.TypeEngine[str]:
    """As app.db.tables.code_point_text(255) spells it today."""
    return (
        sa.String(TEXT_LENGTH)
        .with_variant(sa.String(TEXT_LENGTH, collation="C"), "postgresql")
        .with_variant(
            mysql.VARCHAR(TEXT_LENGTH, charset="utf8mb4", collation="utf8mb4_nopad_bin"),
            "mysql",
            "mariadb",
        )
    )


def upgrade() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("id", ID, primary_key=True),
        sa.Column("caller", code_point_text(), nullable=False),
        sa.Column("key", code_point_text(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", BODY, nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("locked_until", TIMESTAMP, nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_idempotency_key"),
        sa.UniqueConstraint("caller", "key", name="uq_idempotency_key_caller_key"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
    )
    op.create_index("ix_idempotency_key_expires_at", "idempotency_key", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_key_expires_at", table_name="idempotency_key")
    op.drop_table("idempotency_key")
