"""Add created_at and updated_at to heroes; existing rows get the upgrade's time.

Revision ID: 0002
Revises: 0001
Created: 2026-11-23
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


@contextmanager
def keeping_sqlite_sequence() -> Iterator[None]:
    """Keep the highest id ever handed out across SQLite's table rebuilds.

    A rebuilt table's AUTOINCREMENT counter restarts from its largest remaining id, so
    the ids of the latest deleted heroes would be handed out again.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    find = sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'hero'")
    before = bind.execute(find).scalar() or 0
    yield
    after = bind.execute(find).scalar() or 0
    bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'hero'"))
    bind.execute(
        sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('hero', :seq)"),
        {"seq": max(before, after)},
    )


def upgrade() -> None:
    with keeping_sqlite_sequence():
        add_timestamps()


def downgrade() -> None:
    with (
        keeping_sqlite_sequence(),
        op.batch_alter_table("hero", table_kwargs=TABLE_KWARGS) as batch,
    ):
        for name in reversed(COLUMNS):
            batch.drop_column(name)


def add_timestamps() -> None:
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
