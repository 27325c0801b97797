"""A batch's request: `{"atomic": true|false, "items": [...]}`, 1 to BATCH_MAX items, each
a create (no `id`) or a change of the row with that `id`, read by the resource's own models.

An item its model refuses is kept as an `InvalidItem` holding pydantic's errors rather than
refusing the whole body, so that a non-atomic batch still writes the others; an atomic one
writes none and its answer names every bad item by its index. The envelope itself (`atomic`
not a boolean, no items, too many) is refused as any body is: 422 before the route runs.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StrictBool,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from app.errors import PreconditionRequired
from app.kit.fields import json_integer
from app.kit.resource import VERSION_MAX
from app.kit.rows import Preconditions

BATCH_MAX = 1_000
"""The most items one batch may hold: 1,000 heroes fit the default body limit (1 MiB) with
names and secret names of 255 ASCII characters each (tests/heroes/test_batch.py)."""

ExpectedVersion = Annotated[int, Field(ge=1, le=VERSION_MAX), BeforeValidator(json_integer)]
"""The version a change expects its row at, as the number its ETag names (`"<id>.<version>"`)."""


class InvalidItem(Exception):
    """An item its model refused: pydantic's errors, each located within the item."""

    def __init__(self, errors: Sequence[Any]) -> None:
        super().__init__("invalid batch item")
        self.errors = tuple(errors)


class VersionRequired(PreconditionRequired):
    """REQUIRE_IF_MATCH: a change in a batch must say the version it expects."""


def batch_item(create: type[BaseModel], change: type[BaseModel]) -> WrapValidator:
    """How an item is read: by `change` when it has an `id` (not null), else by `create`;
    an item either refuses is an InvalidItem. The schema stays the annotated union's."""

    def read(value: Any, _union: ValidatorFunctionWrapHandler) -> Any:
        model = change if isinstance(value, dict) and value.get("id") is not None else create
        try:
            return model.model_validate(value)
        except ValidationError as error:
            return InvalidItem(error.errors(include_url=False, include_input=False))

    return WrapValidator(read)


class BatchBody(BaseModel):
    """What every resource's batch holds besides its items."""

    atomic: StrictBool = Field(
        default=True,
        description=(
            "`true` (the default): every item is written, or none is, and the answer names "
            "each item that could not be. `false`: each item is written or refused on its own, "
            "and `results` says which."
        ),
    )


def items_field(singular: str) -> Any:
    """The `items` field of a batch of this resource's rows."""
    return Field(
        min_length=1,
        max_length=BATCH_MAX,
        description=(
            f"1 to {BATCH_MAX} items, written in order: one without `id` creates a "
            f"{singular}; one with `id` changes that {singular} (only the fields sent), "
            "and with `version` only if it is still at that version."
        ),
    )


@dataclass(frozen=True, slots=True)
class Author:
    """Who writes a batch, and what the deployment asks of their changes."""

    user_id: int | None = None
    """The signed-in user: the owner of the rows the batch creates."""
    owner: int | None = None
    """WRITE_POLICY=owner (not an admin): only this user's rows may be changed."""
    require_version: bool = False
    """REQUIRE_IF_MATCH: each change says the version it expects."""


@dataclass(frozen=True, slots=True)
class New:
    """An item that creates a row with these values."""

    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Changed:
    """An item that sets these values on the row, if it meets `expected`."""

    row_id: int
    values: Mapping[str, Any]
    expected: Preconditions | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """An item refused, before the database (invalid) or by it, and why."""

    error: Exception


Item = New | Changed | Failed


class ChangeModel(Protocol):
    """What a change item's model has besides its fields."""

    @property
    def id(self) -> int: ...
    @property
    def version(self) -> int | None: ...


def read_items(
    items: Sequence[object],
    author: Author,
    *,
    change: type[BaseModel],
    new_values: Callable[[Any], Mapping[str, Any]],
    change_values: Callable[[Any], Mapping[str, Any]],
) -> list[Item]:
    """The items as writes: what each creates or changes, and what a change expects of its
    row (its `version`, its owner). An item of the `change` model changes a row; any other
    valid one creates."""
    read: list[Item] = []
    for item in items:
        if isinstance(item, InvalidItem):
            read.append(Failed(item))
        elif isinstance(item, change):
            read.append(_changed(item, author, change_values(item)))  # type: ignore[arg-type]  # a change model is a ChangeModel
        else:
            read.append(New(new_values(item)))
    return read


def _changed(item: ChangeModel, author: Author, values: Mapping[str, Any]) -> Item:
    if item.version is None and author.require_version:
        return Failed(VersionRequired())
    versions = None if item.version is None else frozenset({item.version})
    expected = Preconditions(versions=versions, owner=author.owner)
    return Changed(item.id, values, None if expected == Preconditions() else expected)
