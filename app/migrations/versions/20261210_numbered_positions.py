"""On PostgreSQL, the indexes of `change_log.position` hold numbered changes only: the
unique constraint becomes a unique index (`ix_change_log_position`) `WHERE position IS
NOT NULL`, and the index of (resource, position) takes the same condition.

Every change is inserted unnumbered. Each of those two indexes then took an entry with a
NULL key for it, all at the same end of the index, where concurrent writers met on the
same leaf page for entries that no query reads: the feed and a round look for positions
above a number, never NULL. With them partial, PostgreSQL alone ran a PATCH and its change
at about 4,900 transactions a second rather than 4,380 (bench/PROFILE.md). MariaDB has no
partial indexes, and SQLite writes one transaction at a time: both keep theirs.

Both indexes are built again while writes wait: 1.5 s for a log of a million changes on
the benchmark's machine.

Revision ID: 0012
Revises: 0011
Created: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NUMBERED = sa.text("position IS NOT NULL")
BY_RESOURCE = "ix_change_log_resource_position"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint("uq_change_log_position", "change_log", type_="unique")
    op.create_index(
        "ix_change_log_position",
        "change_log",
        ["position"],
        unique=True,
        postgresql_where=NUMBERED,
    )
    op.drop_index(BY_RESOURCE, table_name="change_log")
    op.create_index(BY_RESOURCE, "change_log", ["resource", "position"], postgresql_where=NUMBERED)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(BY_RESOURCE, table_name="change_log")
    op.create_index(BY_RESOURCE, "change_log", ["resource", "position"])
    op.drop_index("ix_change_log_position", table_name="change_log")
    op.create_unique_constraint("uq_change_log_position", "change_log", ["position"])
