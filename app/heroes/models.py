"""The hero model family: HeroBase, Hero (table), HeroCreate, HeroPublic, HeroUpdate, and
a batch of them (HeroBatch: creates and HeroBatchChanges).

Requests are validated by the non-table models only; the table model is built from them.
Every bound is declared here, so that nothing the API accepts can overflow a column.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.db.tables import (
    ID_TYPE,
    code_point_text,
    id_field,
    timestamp_field,
    version_field,
)
from app.http.responses import ANSWER_CONFIG
from app.kit.batch.items import BatchBody, ExpectedVersion, batch_item, items_field
from app.kit.changes.log import ChangeLog
from app.kit.fields import ID_MAX, RowId, Text, json_integer
from app.users.models import owner_field

NAME_MAX_LENGTH = 255
SECRET_NAME_MAX_LENGTH = 255
AGE_MAX = 2**31 - 1  # the largest value a 32-bit INTEGER column holds on every backend
HERO_ID_MAX = ID_MAX


# The bounds sit inside, so that the schema shows them as `minimum` and `maximum`.
Age = Annotated[int, PydanticField(ge=0, le=AGE_MAX), BeforeValidator(json_integer)]

# Names compare and sort by code point on every backend (migration 0005).
_NAME_TYPE = code_point_text(NAME_MAX_LENGTH)


# Descriptions and examples are for the API docs only (the table model ignores them); the
# docs build examples from the fields' own, in field order: the schema-wide `examples`
# of a model would come out with its keys sorted.
class HeroBase(SQLModel):
    name: Text = Field(
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        sa_type=_NAME_TYPE,
        description="The hero's name.",
        schema_extra={"examples": ["Deadpond"]},
    )
    age: Age | None = Field(
        default=None,
        description="Age in years, or null.",
        schema_extra={"examples": [28]},
    )


class Hero(HeroBase, table=True):
    # AUTOINCREMENT: SQLite would otherwise hand a deleted hero's id to the next one.
    # The indexes serve the list's filters and sorts, id breaking ties (migration 0005).
    __table_args__ = (
        Index("ix_hero_name_id", "name", "id"),
        Index("ix_hero_age_id", "age", "id"),
        Index("ix_hero_team_id_id", "team_id", "id"),  # a team's heroes, in id order
        {
            "sqlite_autoincrement": True,
            "mysql_charset": "utf8mb4",
            "mysql_collate": "utf8mb4_bin",
            # SQLAlchemy's MariaDB dialect reads only its own prefix.
            "mariadb_charset": "utf8mb4",
            "mariadb_collate": "utf8mb4_bin",
        },
    )

    id: int | None = id_field()
    secret_name: str = Field(max_length=SECRET_NAME_MAX_LENGTH)
    # No ON DELETE action: deleting a team releases its heroes itself, bumping their
    # versions (app/teams/service.py), and a delete that missed one fails loudly.
    team_id: int | None = Field(default=None, foreign_key="team.id", sa_type=ID_TYPE)
    # Never part of a hero's JSON body. The service sets both; the database's default
    # covers rows written by other tools.
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    # Bumped by every change; a hero's ETag names it and If-Match compares it.
    version: int = version_field()
    # The signed-in user who created the hero, or None; never part of a hero's JSON body.
    # Under WRITE_POLICY=owner only they (or an admin) may change it; a deleted user's
    # heroes are left to the admins (migration 0007).
    owner_id: int | None = owner_field()


HERO_LOG = ChangeLog(
    "heroes",
    Hero,
    public=("id", "name", "age", "team_id"),
    kept=("secret_name", "owner_id", "created_at"),
)
"""A hero in the change log: its public fields and its team (never its secret_name, which
only a deletion keeps, unseen, with its owner and creation time, for a restore)."""


class HeroPublic(HeroBase):
    model_config = ANSWER_CONFIG  # type: ignore[assignment]  # SQLModel's own ConfigDict type
    id: int = Field(description="Assigned by the service.", schema_extra={"examples": [1]})


class HeroState(HeroPublic):
    """A hero's public state as its history records it: its body, and its team."""

    team_id: int | None = Field(
        default=None, description="Its team's id, or null.", schema_extra={"examples": [None]}
    )


EXTRA_FIELDS = ("team_id", "created_at", "updated_at")
"""Fields a client may ask to see in a hero's body (`?fields=`); never there by default."""


@dataclass(slots=True)
class HeroSummary:
    """HeroPublic's fields as the service reads them back, for pages.

    Plain records rather than models: a page builds a hundred of these, and read from the
    database they are already valid (bench/PROFILE.md prices SQLModel objects). Not
    frozen, for the same reason: a frozen dataclass takes four times as long to build
    (1.3 against 0.3 µs, a tenth of a page's time). Nothing assigns to one once it is read.
    """

    id: int
    name: str
    age: int | None

    def public_body(self) -> dict[str, Any]:
        """HeroPublic's fields, in its order: a hero's JSON body."""
        return {"name": self.name, "age": self.age, "id": self.id}


@dataclass(slots=True)
class StoredHero(HeroSummary):
    """A hero with its timestamps and version: what reading, creating or changing one
    answers."""

    team_id: int | None
    created_at: datetime
    updated_at: datetime
    version: int


class HeroCreate(HeroBase):
    secret_name: Text = Field(
        min_length=1,
        max_length=SECRET_NAME_MAX_LENGTH,
        description="The hero's real name: stored, never returned.",
        schema_extra={"examples": ["Dive Wilson"]},
    )
    team_id: RowId | None = Field(
        default=None,
        description=(
            "The id of the team the hero joins, or null for none. A team that does not "
            "exist is 422 (`missing_reference` at `team_id`)."
        ),
        schema_extra={"examples": [None]},
    )


class HeroUpdate(SQLModel):
    """Fields left out stay as they are. `age` may be null (cleared); the names may not.

    The names default to None only so that they can be left out: an explicit null is
    refused by their `str` type, and the service reads only the fields that were sent.
    """

    # The example a PATCH is for: one field changed, the others left as they are. (SQLModel
    # types `model_config` as its own subclass of ConfigDict; pydantic merges the two.)
    model_config = ConfigDict(json_schema_extra={"examples": [{"age": 29}]})  # type: ignore[assignment]

    name: Text = Field(
        default=None, min_length=1, max_length=NAME_MAX_LENGTH, description="A new name."
    )
    age: Age | None = Field(default=None, description="A new age; null clears it.")
    secret_name: Text = Field(
        default=None,
        min_length=1,
        max_length=SECRET_NAME_MAX_LENGTH,
        description="A new real name: stored, never returned.",
    )
    team_id: RowId | None = Field(
        default=None,
        description=(
            "The id of the team the hero moves to; null leaves its team. A team that does "
            "not exist is 422 (`missing_reference` at `team_id`)."
        ),
    )


class HeroBatchChange(HeroUpdate):
    """A batch item that changes the hero with this `id`: HeroUpdate's fields, and the
    version it expects the hero at, if any."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 1, "version": 1, "age": 29}]})

    id: RowId = Field(description="The hero to change.")
    version: ExpectedVersion | None = Field(
        default=None,
        description=(
            'The version the hero must still be at (its ETag `"<id>.<version>"` names it), '
            "as If-Match on a PATCH; otherwise this item is refused with 412."
        ),
    )


class HeroBatch(BatchBody):
    """`POST /heroes/batch`: heroes to create and heroes to change, in one request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "atomic": True,
                    "items": [
                        {"name": "Deadpond", "secret_name": "Dive Wilson"},
                        {"id": 1, "version": 1, "age": 29},
                    ],
                }
            ]
        }
    )

    items: list[
        Annotated[HeroCreate | HeroBatchChange, batch_item(HeroCreate, HeroBatchChange)]
    ] = items_field("hero")
