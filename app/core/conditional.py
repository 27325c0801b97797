"""Conditional requests (RFC 9110, section 13): entity tags and modification dates.

The headers are read here and nowhere else. A domain decides what its tags name (see
app/heroes/etags.py); this module only parses and compares them.

Routes read these headers from the request and declare them to OpenAPI with
`declared_headers` rather than as FastAPI parameters: each parameter FastAPI resolves costs
about 8 µs a request, more than the query behind GET one (bench/PROFILE.md).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from app.core.errors import AppError

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, in a comma-separated list; etagc allows commas.
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*(?:,|$)')
# Before each element: spaces, and the empty elements a list may hold (RFC 9110, 5.6.1).
_SEPARATORS = re.compile(r"[ \t,]*")


@dataclass(frozen=True, slots=True)
class EntityTags:
    """A parsed If-Match or If-None-Match: `*`, or the opaque tags it lists."""

    any: bool = False
    strong: frozenset[str] = frozenset()
    weak: frozenset[str] = frozenset()


def parse_entity_tags(header: str) -> EntityTags | None:
    """The tags of a list header (without their quotes), or None if it is malformed."""
    if header.strip() == "*":
        return EntityTags(any=True)
    strong: set[str] = set()
    weak: set[str] = set()
    position = _skip_separators(header, 0)
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            return None
        (weak if match.group(1) else strong).add(match.group(2))
        position = _skip_separators(header, match.end())
    if not strong and not weak:
        return None
    return EntityTags(strong=frozenset(strong), weak=frozenset(weak))


def _skip_separators(header: str, position: int) -> int:
    skipped = _SEPARATORS.match(header, position)
    return skipped.end() if skipped else position


IF_MATCH_MAX_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class DeclaredHeader:
    name: str
    description: str
    example: str
    max_length: int | None = None

    def parameter(self) -> dict[str, Any]:
        """This header as an OpenAPI parameter. The example sits in the schema, where
        Swagger UI shows it without filling it in: a filled-in `If-None-Match` would turn
        "Try it out" into a 304."""
        schema: dict[str, Any] = {"type": "string", "examples": [self.example]}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return {
            "name": self.name,
            "in": "header",
            "required": False,
            "description": self.description,
            "schema": schema,
        }


def declared_headers(
    *headers: DeclaredHeader, query: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The `openapi_extra` of a route that reads these headers itself (and, before them,
    the `query` parameters it reads itself: app/core/query.py)."""
    return {"parameters": [*query, *(header.parameter() for header in headers)]}


def if_match(request: Request, *, required: bool) -> EntityTags | None:
    """The tags of If-Match, or None without one (428 if `required`). An unreadable header
    gives no tags, so that the write it conditions is refused rather than made
    unconditional; an overlong one is refused as FastAPI refuses a too-long parameter."""
    header = request.headers.get("if-match")
    if header is None:
        if required:
            raise PreconditionRequired()
        return None
    if len(header) > IF_MATCH_MAX_LENGTH:
        raise RequestValidationError([_too_long("if-match", IF_MATCH_MAX_LENGTH)])
    return parse_entity_tags(header) or EntityTags()


def _too_long(header: str, max_length: int) -> dict[str, Any]:
    return {
        "type": "string_too_long",
        "loc": ("header", header),
        "msg": f"String should have at most {max_length} characters",
        "input": None,  # never echoed: the error handler leaves input out
        "ctx": {"max_length": max_length},
    }


def quoted(opaque_tag: str) -> str:
    """The strong entity tag for an ETag header."""
    return f'"{opaque_tag}"'


def none_match(if_none_match: str | None, opaque_tag: str) -> bool | None:
    """Whether If-None-Match lets the request through: False when it names this tag (weak
    comparison, as GET uses it) or `*`; None when the header is absent or malformed."""
    if if_none_match is None:
        return None
    tags = parse_entity_tags(if_none_match)
    if tags is None:
        return None
    return not (tags.any or opaque_tag in tags.strong or opaque_tag in tags.weak)


def modified_since(if_modified_since: str | None, last_modified: datetime) -> bool | None:
    """Whether the resource changed after the If-Modified-Since date (to the second, as
    Last-Modified says it); None when the header is absent or not an HTTP date."""
    if if_modified_since is None:
        return None
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return None
    if since.tzinfo is None:  # an HTTP date is GMT; a naive one came without a zone
        return None
    return last_modified.replace(microsecond=0) > since


class PreconditionFailed(AppError):
    """The client's If-Match names a state the resource has left; the current tag comes
    back in the ETag header, so that the client can re-read and retry."""

    status_code = 412
    detail = "Precondition Failed: the resource has changed since the ETag in If-Match"

    def __init__(self, current_etag: str | None = None) -> None:
        super().__init__()
        self.current_etag = current_etag

    def response_headers(self) -> dict[str, str] | None:
        return {"ETag": self.current_etag} if self.current_etag else None

    @classmethod
    def responses(cls) -> dict[int | str, dict[str, Any]]:
        declared = super().responses()
        declared[cls.status_code]["headers"] = {
            "ETag": {"description": "The current entity tag.", "schema": {"type": "string"}}
        }
        return declared


class PreconditionRequired(AppError):
    status_code = 428
    detail = "Precondition Required: send If-Match with the ETag of the state you change"
