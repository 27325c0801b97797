"""On PostgreSQL, the indexes of `change_log.position` hold numbered changes only: the
unique constraint becomes a unique index (`ix_change_log_position`) `WHERE position IS
NOT NULL`, and the index of
(resource, position) takes the same condition.

Every change is inserted unnumbered. Each of those two indexes then took an entry with a
NULL key for it, all in the same place at the end of the index, where 32 concurrent
writers queued on the same leaf page (and its deduplication) for an entry no query ever
reads: the feed and a round look for positions above a number, which is never NULL.
Measured in bench/PROFILE.md. MariaDB and SQLite keep theirs: their writers do not queue
so, and neither is what the benchmark measures.

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
