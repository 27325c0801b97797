"""Teams, and heroes in them: the team table, and hero.team_id with its foreign key.

A team's name is unique (the database decides which of two teams of one name is kept);
names and headquarters compare by code point on every backend, as heroes' names do
(revision 0005). hero.team_id is nullable, so every existing hero is kept, with no team.
Its foreign key has no ON DELETE action: deleting a team releases its heroes itself, in
the same transaction, and bumps their versions (app/teams/service.py). The index
(team_id, id) serves a team's heroes in id order and the hero list's team filter.

Revision ID: 0006
Revises: 0005
Created: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_LENGTH = 255
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
NOW = sa.text("CURRENT_TIMESTAMP")
FOREIGN_KEY = "fk_hero_team_id_team"
INDEX = "ix_hero_team_id_id"


def code_point_text() -> sa.types.TypeEngine[str]:
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
        "team",
        sa.Column("name", code_point_text(), nullable=False),
        sa.Column("headquarters", code_point_text(), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=NOW),
        sa.Column("updated_at", TIMESTAMP, nullable=False, server_default=NOW),
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("id", name="pk_team"),
        sa.UniqueConstraint("name", name="uq_team_name"),
        sqlite_autoincrement=True,
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place; Alembic would rebuild the table
        # (and lose AUTOINCREMENT's record of the highest id ever handed out).
        op.execute(
            f"ALTER TABLE hero ADD COLUMN team_id INTEGER CONSTRAINT {FOREIGN_KEY} "
            "REFERENCES team (id)"
        )
        op.create_index(INDEX, "hero", ["team_id", "id"])
    else:
        op.add_column("hero", sa.Column("team_id", ID, nullable=True))
        # The index first: MariaDB would otherwise make one of its own for the key.
        op.create_index(INDEX, "hero", ["team_id", "id"])
        op.create_foreign_key(FOREIGN_KEY, "hero", "team", ["team_id"], ["id"])


def downgrade() -> None:
    backend = op.get_bind().dialect.name
    if backend in {"mysql", "mariadb"}:
        # MariaDB keeps the foreign key's own index until the key is gone.
        op.drop_constraint(FOREIGN_KEY, "hero", type_="foreignkey")
        op.drop_index(INDEX, table_name="hero")
    else:
        op.drop_index(INDEX, table_name="hero")
        if backend != "sqlite":  # SQLite drops the reference with its column
            op.drop_constraint(FOREIGN_KEY, "hero", type_="foreignkey")
    if backend == "sqlite":
        op.execute("ALTER TABLE hero DROP COLUMN team_id")
    else:
        op.drop_column("hero", "team_id")
    op.drop_table("team")
