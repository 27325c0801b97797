"""The hero's errors: those its service raises, and the 422 examples its routes show."""

from app.errors import MissingReference, NotFound
from app.http.errors import InvalidInput
from app.kit.openapi import invalid_id


class HeroNotFound(NotFound):
    detail = "Hero not found"


class HeroTeamNotFound(MissingReference):
    """The team a hero was to join does not exist (or was deleted at that moment)."""

    field = "team_id"
    message = "No team has this id"


_BAD_HERO_ID = invalid_id("hero")


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


class InvalidHeroHistory(InvalidInput):
    problems = (
        {
            "type": "value_error",
            "loc": ["query", "cursor"],
            "msg": (
                "not a cursor of this history: damaged or changed: use a cursor from a "
                "Link header as it is"
            ),
        },
    )


class InvalidHeroRestore(InvalidInput):
    problems = (
        _BAD_HERO_ID,
        {"type": "int_type", "loc": ["body", "version"], "msg": "Input should be a valid integer"},
    )
