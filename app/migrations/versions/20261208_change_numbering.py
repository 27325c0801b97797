"""Changes numbered after they commit: each change gets a `seq` as it is inserted (the
new primary key) and its `position` from the sequencer once committed (null until then,
unique once given). Writers no longer take the clock's lock (README, "How the feed
scales").

Every change already recorded keeps its position, which is also its seq. The table is
copied on every database (a primary key cannot change in place on SQLite, and the copy
costs the same elsewhere): the old one is renamed first, and on PostgreSQL its
constraints' indexes too, whose names are the database's, not the table's.

Revision ID: 0010
Revises: 0009
Created: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
OLD = "change_log_old"
COMMON = (
    "resource",
    "row_id",
    "version",
    "op",
    "data",
    "changed",
    "kept",
    "changed_at",
    "actor",
    "request_id",
    "idempotency_key",
)
INDEXES = {
    "ix_change_log_resource_position": ["resource", "position"],
    "ix_change_log_changed_at": ["changed_at"],
}
CONSTRAINT_INDEXES = ("pk_change_log", "uq_change_log_resource_row_id_version")


def upgrade() -> None:
    _set_aside()
    _create(numbered=True)
    columns = ", ".join(COMMON)
    op.execute(
        f"INSERT INTO change_log (seq, position, {columns}) "  # noqa: S608  # names above
        f"SELECT position, position, {columns} FROM {OLD}"
    )
    _finish()
    if op.get_bind().dialect.name == "postgresql":  # its sequence continues past them
        op.execute(
            "SELECT setval(pg_get_serial_sequence('change_log', 'seq'), "
            "coalesce(max(seq), 0) + 1, false) FROM change_log"
        )


def downgrade() -> None:
    _set_aside()
    _create(numbered=False)
    columns = ", ".join(COMMON)
    # Changes not numbered yet are lost with the sequencer: none is, once writes stop.
    op.execute(
        f"INSERT INTO change_log (position, {columns}) "  # noqa: S608  # names above
        f"SELECT position, {columns} FROM {OLD} WHERE position IS NOT NULL"
    )
    _finish()


def _set_aside() -> None:
    """Rename the table, and free the names its copy takes."""
    op.rename_table("change_log", OLD)
    for name in INDEXES:
        op.drop_index(name, table_name=OLD)
    if op.get_bind().dialect.name == "postgresql":
        for name in CONSTRAINT_INDEXES:
            op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")


def _create(*, numbered: bool) -> None:
    """The table as of 0010 (`numbered`) or as of 0009."""
    if numbered:
        keys = [
            sa.Column("seq", ID, nullable=False, autoincrement=True),
            sa.Column("position", ID, nullable=True),
        ]
        constraints = [
            sa.PrimaryKeyConstraint("seq", name="pk_change_log"),
            sa.UniqueConstraint("position", name="uq_change_log_position"),
        ]
    else:
        keys = [sa.Column("position", ID, nullable=False, autoincrement=False)]
        constraints = [sa.PrimaryKeyConstraint("position", name="pk_change_log")]
    op.create_table(
        "change_log",
        *keys,
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
        *constraints,
        sa.UniqueConstraint(
            "resource", "row_id", "version", name="uq_change_log_resource_row_id_version"
        ),
        sqlite_autoincrement=numbered,
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
    )


def _finish() -> None:
    op.drop_table(OLD)
    for name, columns in INDEXES.items():
        op.create_index(name, "change_log", columns)
