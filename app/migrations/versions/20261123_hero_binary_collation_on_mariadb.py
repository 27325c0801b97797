"""Give the hero table on MariaDB the binary collation the models always asked for.

Before this release the table options were spelled for MySQL only, which SQLAlchemy's
MariaDB dialect ignores: tables got the database's default collation (utf8mb4_general_ci
on our servers), so names compared without regard to case and accents there and nowhere
else. New databases get utf8mb4_bin from the first revision; this converts older ones.
Nothing changes on SQLite and PostgreSQL.

Revision ID: 0003
Revises: 0002
Created: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name in {"mysql", "mariadb"}:
        op.execute("ALTER TABLE hero CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")


def downgrade() -> None:
    """Nothing: the collation before is unknown, and the binary one loses nothing."""
