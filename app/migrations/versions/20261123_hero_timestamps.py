"""Add created_at and updated_at to heroes; existing rows get the upgrade's time.

Revision ID: 0002
Revises: 0001
Created: 2026-11-23
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("created_at", "updated_at")
# Timezone-aware UTC; MariaDB's DATETIME keeps no offset, and microseconds only when asked.
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# For rows written by other tools; the service sets both columns itself.
NOW = sa.text("CURRENT_TIMESTAMP")
# SQLite rebuilds the table from what it reflects, which misses AUTOINCREMENT.
TABLE_KWARGS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    # Added nullable, filled, then made NOT NULL: every existing row gets one explicit UTC
    # value, the same on every backend, whatever the server's time zone.
    with op.batch_alter_table("hero", table_kwargs=TABLE_KWARGS) as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, TIMESTAMP, server_default=NOW))
    now = datetime.now(UTC)
    if op.get_bind().dialect.name != "postgresql":
        now = now.replace(tzinfo=None)  # naive UTC, as the service stores it there
    hero = sa.table("hero", *(sa.column(name, TIMESTAMP) for name in COLUMNS))
    op.execute(hero.update().values(dict.fromkeys(COLUMNS, now)))
    with op.batch_alter_table("hero", table_kwargs=TABLE_KWARGS) as batch:
        for name in COLUMNS:
            batch.alter_column(
                name, existing_type=TIMESTAMP, existing_server_default=NOW, nullable=False
            )


def downgrade() -> None:
    with op.batch_alter_table("hero", table_kwargs=TABLE_KWARGS) as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
