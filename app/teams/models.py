"""The team model family, as the SQLModel tutorial's teams chapter has it: TeamBase, Team
(table), TeamCreate, TeamPublic, TeamUpdate, and TeamPublicWithHeroes; and a batch of
them (TeamBatch: creates and TeamBatchChanges).

A team's heroes are read by the service in one statement of their own, never loaded
behind its back: the ORM's relationship attributes (`Team.heroes`, `Hero.team`, for code
that uses a session) refuse to load lazily (`lazy="raise"`).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import ConfigDict
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import backref, relationship
from sqlmodel import Field, Relationship, SQLModel

from app.db.tables import (
    code_point_text,
    id_field,
    timestamp_field,
    version_field,
)
from app.heroes.models import HeroPublic
from app.http.responses import ANSWER_CONFIG
from app.kit.batch.items import BatchBody, ExpectedVersion, batch_item, items_field
from app.kit.changes.log import ChangeLog
from app.kit.fields import ID_MAX, RowId, Text
from app.users.models import owner_field

if TYPE_CHECKING:
    from app.heroes.models import Hero

NAME_MAX_LENGTH = 255
HEADQUARTERS_MAX_LENGTH = 255
TEAM_ID_MAX = ID_MAX
HEROES_SHOWN = 100
"""How many of its heroes a team's own answer lists (in id order); the hero list's
`team_id` filter pages through all of them."""


class TeamBase(SQLModel):
    # Both compare by code point on every backend, as heroes' names do (the filters'
    # equality is exact everywhere).
    name: Text = Field(
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        sa_type=code_point_text(NAME_MAX_LENGTH),
        description="The team's name, unique among teams (case and spaces count).",
        schema_extra={"examples": ["Preventers"]},
    )
    headquarters: Text = Field(
        min_length=1,
        max_length=HEADQUARTERS_MAX_LENGTH,
        sa_type=code_point_text(HEADQUARTERS_MAX_LENGTH),
        description="Where the team is based.",
        schema_extra={"examples": ["Sharp Tower"]},
    )


class Team(TeamBase, table=True):
    # The unique name decides which of two teams of one name is stored (409 for the
    # other); it also serves the list's name filter and sort.
    __table_args__ = (
        UniqueConstraint("name"),
        {
            "sqlite_autoincrement": True,
            "mysql_charset": "utf8mb4",
            "mysql_collate": "utf8mb4_bin",
            "mariadb_charset": "utf8mb4",
            "mariadb_collate": "utf8mb4_bin",
        },
    )

    id: int | None = id_field()
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    # Bumped by every change of the team's answer: its own fields, and its heroes joining,
    # leaving or changing (app/heroes/service.py touches it in the same transaction).
    version: int = version_field()
    # The signed-in user who created the team, or None; never in a team's body (as for
    # heroes: WRITE_POLICY=owner, migration 0007).
    owner_id: int | None = owner_field()

    # `Hero.team` comes from the backref: declared here, beside the model that imports
    # the other, so that heroes alone still map without teams.
    heroes: list["Hero"] = Relationship(
        sa_relationship=relationship("Hero", lazy="raise", backref=backref("team", lazy="raise"))
    )


TEAM_LOG = ChangeLog(
    "teams", Team, public=("id", "name", "headquarters"), kept=("owner_id", "created_at")
)
"""A team in the change log. A change to its heroes is recorded as an update of
`heroes`: it moves the team's version, as its answer lists them."""


class TeamCreate(TeamBase):
    pass


@dataclass(slots=True)
class TeamSummary:
    """TeamPublic's fields as the service reads them back: plain records, as heroes' are
    (app/heroes/models.py says why)."""

    id: int
    name: str
    headquarters: str

    def public_body(self) -> dict[str, Any]:
        """TeamPublic's fields, in its order: a team's JSON body."""
        return {"name": self.name, "headquarters": self.headquarters, "id": self.id}


@dataclass(slots=True)
class StoredTeam(TeamSummary):
    """A team with its timestamps and version."""

    created_at: datetime
    updated_at: datetime
    version: int


class TeamPublic(TeamBase):
    model_config = ANSWER_CONFIG  # type: ignore[assignment]  # SQLModel's own ConfigDict type
    id: int = Field(description="Assigned by the service.", schema_extra={"examples": [1]})


class TeamPublicWithHeroes(TeamPublic):
    heroes: list[HeroPublic] = Field(
        default_factory=list,
        description=(
            f"The team's heroes in id order, at most {HEROES_SHOWN}; "
            "`GET /heroes/?team_id=` pages through all of them."
        ),
    )


class TeamUpdate(SQLModel):
    """Fields left out stay as they are; neither may be null. An `id` is ignored."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"headquarters": "Sister Margaret's Bar"}]}
    )  # type: ignore[assignment]

    name: Text = Field(
        default=None, min_length=1, max_length=NAME_MAX_LENGTH, description="A new name."
    )
    headquarters: Text = Field(
        default=None,
        min_length=1,
        max_length=HEADQUARTERS_MAX_LENGTH,
        description="New headquarters.",
    )


class TeamBatchChange(TeamUpdate):
    """A batch item that changes the team with this `id`: TeamUpdate's fields, and the
    version it expects the team at, if any."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": 1, "version": 1, "headquarters": "Sharp Tower"}]}
    )

    id: RowId = Field(description="The team to change.")
    version: ExpectedVersion | None = Field(
        default=None,
        description=(
            'The version the team must still be at (its ETag `"<id>.<version>"` names it), '
            "as If-Match on a PATCH; otherwise this item is refused with 412."
        ),
    )


class TeamBatch(BatchBody):
    """`POST /teams/batch`: teams to create and teams to change, in one request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "atomic": True,
                    "items": [
                        {"name": "Preventers", "headquarters": "Sharp Tower"},
                        {"id": 1, "version": 1, "headquarters": "Sister Margaret's Bar"},
                    ],
                }
            ]
        }
    )

    items: list[
        Annotated[TeamCreate | TeamBatchChange, batch_item(TeamCreate, TeamBatchChange)]
    ] = items_field("team")
