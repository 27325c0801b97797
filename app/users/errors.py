"""The user's errors: those its service raises, and the 422 examples its routes show."""

from typing import Any

from app.errors import Conflict, Forbidden, NotFound
from app.http.errors import InvalidInput


class UserNotFound(NotFound):
    detail = "User not found"


class UsernameTaken(Conflict):
    detail = "That username is taken"


class SignupClosed(Forbidden):
    detail = "Sign-up is closed: only an admin creates users"


class WrongCurrentPassword(Forbidden):
    detail = "The current password is wrong"


# 422 examples for /docs, each what the service answers.
class InvalidUser(InvalidInput):
    problems = (
        {
            "type": "string_too_short",
            "loc": ["body", "password"],
            "msg": "String should have at least 8 characters",
            "ctx": {"min_length": 8},
        },
    )


_BAD_USER_ID: dict[str, Any] = {
    "type": "int_parsing",
    "loc": ["path", "user_id"],
    "msg": "Input should be a valid integer, unable to parse string as an integer",
}


class InvalidUserId(InvalidInput):
    problems = (_BAD_USER_ID,)


class InvalidUserPage(InvalidInput):
    problems = (
        {
            "type": "value_error",
            "loc": ["query", "sort"],
            "msg": (
                "unknown or empty sort key: sort is a comma-separated list of id and "
                "username, each at most once and each optionally prefixed with - for "
                "descending (for example -id)"
            ),
        },
    )
