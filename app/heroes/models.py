"""The hero model family: HeroBase, Hero (table), HeroCreate, HeroPublic, HeroUpdate.

Requests are validated by the non-table models only; the table model is built from them.
Every bound is declared here, so that nothing the API accepts can overflow a column.
"""

from typing import Annotated, TypedDict

from pydantic import AfterValidator, ConfigDict
from sqlalchemy import BigInteger, Integer
from sqlmodel import Field, SQLModel

NAME_MAX_LENGTH = 255
SECRET_NAME_MAX_LENGTH = 255
AGE_MAX = 2**31 - 1  # the largest value a 32-bit INTEGER column holds on every backend
HERO_ID_MAX = 2**63 - 1  # the largest value a BIGINT column holds


def _reject_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refusing it everywhere keeps the backends alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Lone surrogates are refused by pydantic itself; NUL is refused here.
Text = Annotated[str, AfterValidator(_reject_nul)]

# SQLite only auto-increments a column declared exactly INTEGER (64-bit there anyway).
_HERO_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


# Descriptions and examples are for the API docs only (the table model ignores them); the
# docs build examples from the fields' own, in field order: the schema-wide `examples`
# of a model would come out with its keys sorted.
class HeroBase(SQLModel):
    name: Text = Field(
        index=True,
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        description="The hero's name.",
        schema_extra={"examples": ["Deadpond"]},
    )
    age: int | None = Field(
        default=None,
        index=True,
        ge=0,
        le=AGE_MAX,
        description="Age in years, or null.",
        schema_extra={"examples": [28]},
    )


class Hero(HeroBase, table=True):
    # AUTOINCREMENT: SQLite would otherwise hand a deleted hero's id to the next one.
    __table_args__ = {
        "sqlite_autoincrement": True,
        "mysql_charset": "utf8mb4",
        "mysql_collate": "utf8mb4_bin",
    }

    id: int | None = Field(default=None, primary_key=True, sa_type=_HERO_ID_TYPE)
    secret_name: str = Field(max_length=SECRET_NAME_MAX_LENGTH)


class HeroPublic(HeroBase):
    id: int = Field(description="Assigned by the service.", schema_extra={"examples": [1]})


class HeroPublicRow(TypedDict):
    """HeroPublic's fields as a plain dict, in its order, for lists: building 100 model
    objects per page costs more than the query (bench/PROFILE.md). Read from the database,
    so already valid."""

    name: str
    age: int | None
    id: int


class HeroCreate(HeroBase):
    secret_name: Text = Field(
        min_length=1,
        max_length=SECRET_NAME_MAX_LENGTH,
        description="The hero's real name: stored, never returned.",
        schema_extra={"examples": ["Dive Wilson"]},
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
    age: int | None = Field(
        default=None, ge=0, le=AGE_MAX, description="A new age; null clears it."
    )
    secret_name: Text = Field(
        default=None,
        min_length=1,
        max_length=SECRET_NAME_MAX_LENGTH,
        description="A new real name: stored, never returned.",
    )
