"""Field types every resource shares: text a column can hold and compare alike on every
backend, and the checks a cursor's values pass before they are bound."""

from typing import Annotated, Any

from pydantic import AfterValidator, Field

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
