"""Field types every resource shares: text a column can hold and compare alike on every
backend, and the checks a cursor's values pass before they are bound."""

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

ID_MAX = 2**63 - 1  # the largest value a BIGINT column holds


def _reject_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refusing it everywhere keeps the backends alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Lone surrogates are refused by pydantic itself; NUL is refused here, and the pattern
# says so in the API's schema (for clients and generated tests; the validator's message is
# the clearer one).
Text = Annotated[
    str, AfterValidator(_reject_nul), Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})
]


def json_integer(value: object) -> object:
    """A JSON integer, as a BeforeValidator: lax validation would take `true` for 1 and
    `"28"` for 28. One written as `28.0` is still 28 (JSON Schema's `integer` admits it),
    and `28.5` is refused by the `int` type after this."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


RowId = Annotated[int, Field(ge=-ID_MAX - 1, le=ID_MAX), BeforeValidator(json_integer)]
"""A row's id in a request's body: a reference to another row (64-bit)."""


def is_id(value: object) -> bool:
    return type(value) is int and -ID_MAX - 1 <= value <= ID_MAX  # bool is no id


def storable_text(max_length: int) -> Any:
    """A check that a value is text of at most `max_length` characters that a column can
    hold and compare: no NUL, no lone surrogate."""

    def check(value: object) -> bool:
        if not isinstance(value, str) or "\x00" in value or len(value) > max_length:
            return False
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
        return True

    return check


def text_filter(description: str, example: str, max_length: int) -> Any:
    """The query parameter of a filter on a text column."""
    return Field(
        None, min_length=1, max_length=max_length, description=description, examples=[example]
    )
