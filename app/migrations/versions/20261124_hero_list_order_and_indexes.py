"""Names compare by code point on every backend; indexes for the list's filters and sorts.

The list sorts and filters names by Unicode code point everywhere (docs: README, API).
SQLite's BINARY collation already does; PostgreSQL's depends on the database's locale,
so the column gets the "C" collation; MariaDB's utf8mb4_bin pads with spaces ("a" equals
"a " and "a\t" sorts before "a"), so the column gets utf8mb4_nopad_bin.

Indexes: (name, id) and (age, id) replace (name) and (age). Each serves equality and
range filters on its first column as the old one did, and the list's sorts on that
column with id as tie-breaker, in both directions; on PostgreSQL, heroes with no age are
at the end of (age, id), which is where the list sorts them (bench/RESULTS-listing.md).

Revision ID: 0005
Revises: 0004
Created: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_LENGTH = 255
OLD_INDEXES = {"ix_hero_name": ["name"], "ix_hero_age": ["age"]}
NEW_INDEXES = {"ix_hero_name_id": ["name", "id"], "ix_hero_age_id": ["age", "id"]}


def upgrade() -> None:
    replace_indexes(OLD_INDEXES, NEW_INDEXES, code_point_order=True)


def downgrade() -> None:
    replace_indexes(NEW_INDEXES, OLD_INDEXES, code_point_order=False)


def replace_indexes(
    old: dict[str, list[str]], new: dict[str, list[str]], *, code_point_order: bool
) -> None:
    # Dropped before the collation changes, so that no index is rebuilt only to be dropped.
    for name in old:
        op.drop_index(name, table_name="hero")
    set_name_collation(code_point_order=code_point_order)
    for name, columns in new.items():
        op.create_index(name, "hero", columns)


def set_name_collation(*, code_point_order: bool) -> None:
    backend = op.get_bind().dialect.name
    if backend == "postgresql":
        collation = "C" if code_point_order else None
        name_type: sa.types.TypeEngine[str] = sa.String(NAME_LENGTH, collation=collation)
    elif backend in {"mysql", "mariadb"}:
        collation = "utf8mb4_nopad_bin" if code_point_order else "utf8mb4_bin"
        name_type = mysql.VARCHAR(NAME_LENGTH, charset="utf8mb4", collation=collation)
    else:
        return
    op.alter_column(
        "hero", "name", type_=name_type, existing_type=sa.String(NAME_LENGTH), nullable=False
    )
