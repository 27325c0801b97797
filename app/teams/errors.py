"""The team's errors: those its service raises, and the 422 examples its routes show."""

from app.errors import Conflict, NotFound
from app.http.errors import InvalidInput
from app.kit.openapi import invalid_id


class TeamNotFound(NotFound):
    detail = "Team not found"


class TeamNameTaken(Conflict):
    """Another team has this name: the unique constraint refused the write."""

    detail = "A team with this name already exists"


_BAD_TEAM_ID = invalid_id("team")


# 422 examples for /docs, each what the service answers (tests/http/test_docs.py checks).
class InvalidTeamId(InvalidInput):
    problems = (_BAD_TEAM_ID,)


class InvalidTeamPage(InvalidInput):
    problems = (
        {
            "type": "value_error",
            "loc": ["query", "sort"],
            "msg": (
                "unknown or empty sort key: sort is a comma-separated list of id and name, "
                "each at most once and each optionally prefixed with - for descending "
                "(for example -name)"
            ),
        },
    )


class InvalidTeamChanges(InvalidInput):
    problems = (
        _BAD_TEAM_ID,
        {"type": "string_type", "loc": ["body", "name"], "msg": "Input should be a valid string"},
    )


class InvalidTeamHistory(InvalidInput):
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


class InvalidTeamRestore(InvalidInput):
    problems = (
        _BAD_TEAM_ID,
        {"type": "int_type", "loc": ["body", "version"], "msg": "Input should be a valid integer"},
    )
