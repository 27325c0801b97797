"""One URL per row: an integer in a path only as `str(int)` writes it.

Pydantic reads "004", "+4", "4.0", " 4" and "0_4" as 4, so each named hero 4 by its own
URL, and caches keyed by URL held copies that diverged (issue "Hardening", 2026-12-02).
`CanonicalInt` goes with every integer path parameter (tests/heroes/test_bad_input.py checks
each route has it): the value is parsed and range-checked as before, then refused with a
422 unless it is written canonically: digits without leading zeros, a minus for a negative
number, nothing else.
"""

from typing import Any

from pydantic import ValidationInfo, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError
from starlette.convertors import StringConvertor, register_url_convertor

CANONICAL_INT_ERROR = "int_canonical"
CANONICAL_INT_MESSAGE = (
    "Input should be an integer written canonically: digits without leading zeros, "
    "a leading - if negative, nothing else"
)


def _canonical(value: Any, handler: ValidatorFunctionWrapHandler, _info: ValidationInfo) -> Any:
    parsed = handler(value)
    if isinstance(value, str) and str(parsed) != value:
        raise PydanticCustomError(CANONICAL_INT_ERROR, CANONICAL_INT_MESSAGE)
    return parsed


CanonicalInt = WrapValidator(_canonical)
"""Metadata for `Annotated[int, Path(...), CanonicalInt]`."""


class RowIdSegment(StringConvertor):
    """A row's id as a path segment (`/{hero_id:row_id}`): any segment but the names of
    the collection's own routes (`batch`), so that `GET /heroes/batch` is 405 with the
    methods that path has, not a read of the hero "batch". The id is read and checked as
    the route's parameter, as before (422 for one that is not an integer)."""

    regex = "(?!batch$)[^/]+"


register_url_convertor("row_id", RowIdSegment())
