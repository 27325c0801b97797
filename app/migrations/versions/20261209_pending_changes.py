"""The changes still waiting for a number, indexed on their own: a partial index of
`change_log.seq` where `position` is null, on PostgreSQL and SQLite.

Each round of the sequencer looks for them, and for the least of their seqs. Without it,
PostgreSQL found them through the position's index, whose entries for numbered changes
stay until a vacuum, and the least seq by walking the primary key from the first change
ever kept: a round cost time in proportion to the log (bench/PROFILE.md). MariaDB needs
none: its index of `position` holds the primary key too, and drops what it no longer
needs at once; nor has it partial indexes.

Revision ID: 0011
Revises: 0010
Created: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXED_ON = {"postgresql", "sqlite"}  # as the model says (app/kit/changes/models.py)
UNNUMBERED = sa.text("position IS NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name in INDEXED_ON:
        op.create_index(
            "ix_change_log_pending",
            "change_log",
            ["seq"],
            postgresql_where=UNNUMBERED,
            sqlite_where=UNNUMBERED,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name in INDEXED_ON:
        op.drop_index("ix_change_log_pending", table_name="change_log")
