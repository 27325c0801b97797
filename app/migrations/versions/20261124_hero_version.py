"""Give every hero a version, bumped by each change: the ETag and the If-Match check.

Existing rows start at 1, as a new hero does.

Revision ID: 0004
Revises: 0003
Created: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every backend adds a NOT NULL column with a default in place: no table rebuild.
    op.add_column(
        "hero", sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1"))
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35 and later) drops a column in place; Alembic would rebuild the table
        # and lose AUTOINCREMENT's record of the highest id ever handed out.
        op.execute("ALTER TABLE hero DROP COLUMN version")
    else:
        op.drop_column("hero", "version")
