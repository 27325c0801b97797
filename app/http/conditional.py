"""Conditional requests (RFC 9110, section 13): entity tags and modification dates.

The headers are read here and nowhere else. Every resource's entity tag is
`"<id>.<version>"`, strong, changed by every change to the row: the id is in the tag so that
a tag copied from one row never matches another.

Routes read these headers from the request and declare them to OpenAPI with
`declared_headers` rather than as FastAPI parameters: each parameter FastAPI resolves costs
about 8 µs a request, more than the query behind GET one (bench/PROFILE.md).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from app.errors import PreconditionRequired

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
# On every answer with an ETag: caches may keep it but must ask whether it is still current
# before each use (a conditional GET, answered 304 while it is). A row changes at any time,
# and its ETag makes the question cheap.
CACHE_CONTROL = "no-cache"
# "Sun, 06 Nov 1994 08:49:37 GMT" is 29 characters; the longest form (RFC 850's) is 39.
HTTP_DATE_MAX_LENGTH = 64


@dataclass(frozen=True, slots=True)
class DeclaredHeader:
    name: str
    description: str
    example: str
    max_length: int | None = None
    pattern: str | None = None

    def parameter(self) -> dict[str, Any]:
        """This header as an OpenAPI parameter. The example sits in the schema, where
        Swagger UI shows it without filling it in: a filled-in `If-None-Match` would turn
        "Try it out" into a 304."""
        schema: dict[str, Any] = {"type": "string", "examples": [self.example]}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = self.pattern
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
    the `query` parameters it reads itself: app/http/query_string.py)."""
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
    return parse_entity_tags(_capped(header, "if-match")) or EntityTags()


def if_none_match(request: Request) -> EntityTags | None:
    """The tags of If-None-Match, None without one; an unreadable header gives no tags
    (GET then ignores it, a write is refused). Capped as If-Match is: the tags are kept in
    a set, and a 40 MB header made one of 544 MB."""
    header = request.headers.get("if-none-match")
    if header is None:
        return None
    return parse_entity_tags(_capped(header, "if-none-match")) or EntityTags()


def _capped(header: str, name: str) -> str:
    if len(header) > IF_MATCH_MAX_LENGTH:
        raise RequestValidationError([_too_long(name, IF_MATCH_MAX_LENGTH)])
    return header


def _too_long(header: str, max_length: int) -> dict[str, Any]:
    return {
        "type": "string_too_long",
        "loc": ("header", header),
        "msg": f"String should have at most {max_length} characters",
        "input": None,  # never echoed: the error handler leaves input out
        "ctx": {"max_length": max_length},
    }


def opaque_tag(row_id: int, version: int | str) -> str:
    """A row's entity tag without its quotes, as If-Match and If-None-Match list them."""
    return f"{row_id}.{version}"


def entity_tag(row_id: int, version: int | str) -> str:
    """A row's strong entity tag, as the ETag header carries it."""
    return f'"{row_id}.{version}"'


def versions_named(
    tags: EntityTags, row_id: int, version_max: int, *, weak: bool = False
) -> frozenset[int]:
    """The versions of this row that the tags name: strong ones only, as If-Match compares
    (a weak tag, or one of another row, names none), or weak ones too (`weak`), as
    If-None-Match compares."""
    prefix = f"{row_id}."
    compared = tags.strong | tags.weak if weak else tags.strong
    named = (
        _version(tag.removeprefix(prefix), version_max)
        for tag in compared
        if tag.startswith(prefix)
    )
    return frozenset(version for version in named if version is not None)


def _version(text: str, version_max: int) -> int | None:
    """The version a tag spells as this service writes it (no sign, no leading zeros)."""
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(version_max))):
        return None
    version = int(text)
    return version if str(version) == text and version <= version_max else None


def none_match(tags: EntityTags | None, opaque_tag: str) -> bool | None:
    """Whether If-None-Match lets a GET through: False when it names this tag (weak
    comparison) or is `*`; None when the header is absent or unreadable."""
    if tags is None or not (tags.any or tags.strong or tags.weak):
        return None
    return not (tags.any or opaque_tag in tags.strong or opaque_tag in tags.weak)


def http_date(header: str | None) -> datetime | None:
    """The instant an HTTP date names (RFC 9110, 5.6.7: always GMT), or None when the header
    is absent or not such a date: then the condition is ignored, as the RFC says.

    Any odd value is None, never an error: numbers that overflow (a year 99999, a day of
    twenty digits) raised OverflowError from the parser, a 500 on every backend."""
    if header is None or len(header) > HTTP_DATE_MAX_LENGTH:
        return None
    try:
        date = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if date.utcoffset() != timedelta(0):  # naive (no zone, or -0000) or not GMT
        return None
    return date


def modified_since(since: datetime | None, last_modified: datetime) -> bool | None:
    """Whether the resource changed after the If-Modified-Since date (to the second, as
    Last-Modified says it); None when there is no such date."""
    if since is None:
        return None
    return last_modified.replace(microsecond=0) > since
