from typing import Any

from app.core.errors import AppError, InvalidInput


class HeroNotFound(AppError):
    status_code = 404
    detail = "Hero not found"


_BAD_HERO_ID: dict[str, Any] = {
    "type": "int_parsing",
    "loc": ["path", "hero_id"],
    "msg": "Input should be a valid integer, unable to parse string as an integer",
}


# 422 examples for /docs, each what the service answers (tests/core/test_docs.py checks).
class InvalidHeroId(InvalidInput):
    problems = (_BAD_HERO_ID,)


class InvalidPage(InvalidInput):
    problems = (
        {
            "type": "less_than_equal",
            "loc": ["query", "limit"],
            "msg": "Input should be less than or equal to 100",
            "ctx": {"le": 100},
        },
    )


class InvalidHeroChanges(InvalidInput):
    problems = (
        _BAD_HERO_ID,
        {"type": "string_type", "loc": ["body", "name"], "msg": "Input should be a valid string"},
    )
