"""The hero's errors: the one its service raises, and the 422 examples its routes show."""

from typing import Any

from app.errors import NotFound
from app.http.errors import InvalidInput


class HeroNotFound(NotFound):
    detail = "Hero not found"


_BAD_HERO_ID: dict[str, Any] = {
    "type": "int_parsing",
    "loc": ["path", "hero_id"],
    "msg": "Input should be a valid integer, unable to parse string as an integer",
}


# 422 examples for /docs, each what the service answers (tests/http/test_docs.py checks).
class InvalidHeroId(InvalidInput):
    problems = (_BAD_HERO_ID,)


class InvalidPage(InvalidInput):
    problems = (
        {
            "type": "value_error",
            "loc": ["query", "sort"],
            "msg": (
                "unknown or empty sort key: sort is a comma-separated list of id, name and "
                "age, each at most once and each optionally prefixed with - for descending "
                "(for example -age,name)"
            ),
        },
    )


class InvalidHeroChanges(InvalidInput):
    problems = (
        _BAD_HERO_ID,
        {"type": "string_type", "loc": ["body", "name"], "msg": "Input should be a valid string"},
    )
