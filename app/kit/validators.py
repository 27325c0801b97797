"""A row's validators in HTTP: `ETag` and `Last-Modified` on every answer that returns one
row, 304 for a client whose copy is current, and the versions an If-Match lets a write find.

Conditional headers are read from the request here, not declared as FastAPI parameters:
each parameter FastAPI resolves costs about 8 µs a request, more than the query behind GET
one (bench/PROFILE.md). Routes declare them to OpenAPI with `declared_headers`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Protocol

from fastapi import Request, Response

from app.http.conditional import (
    CACHE_CONTROL,
    IF_MATCH_MAX_LENGTH,
    DeclaredHeader,
    EntityTags,
    entity_tag,
    http_date,
    if_match,
    if_none_match,
    modified_since,
    none_match,
    opaque_tag,
    versions_named,
)
from app.kit.rows import Expected, Preconditions


class Versioned(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def version(self) -> int | str: ...
    @property
    def updated_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Embedding:
    """The validators of an answer that embeds other rows (`?expand=`): its tag names the
    row's version and each embedded row's, so that it changes when any of them does, and
    never matches an If-Match (which names the row's own versions); its Last-Modified is
    the latest of their changes."""

    id: int
    version: str
    updated_at: datetime


def embedding(row: Versioned, *embedded: Versioned) -> Embedding:
    version = ".".join([str(row.version), *(f"{each.id}-{each.version}" for each in embedded)])
    latest = max([row.updated_at, *(each.updated_at for each in embedded)])
    return Embedding(row.id, version, latest)


def validators(row: Versioned) -> dict[str, str]:
    """The headers a client revalidates or conditions a write with."""
    return {
        "ETag": entity_tag(row.id, row.version),
        "Last-Modified": format_datetime(row.updated_at, usegmt=True),
        "Cache-Control": CACHE_CONTROL,
    }


def is_current(row: Versioned, request: Request) -> bool:
    """Whether the client's copy is current, so that GET answers 304 (RFC 9110, 13.2.2:
    If-None-Match, when present and readable, decides; else If-Modified-Since)."""
    passes = none_match(if_none_match(request), opaque_tag(row.id, row.version))
    if passes is None:
        since = http_date(request.headers.get("if-modified-since"))
        passes = modified_since(since, row.updated_at)
    return passes is False


def not_modified(row: Versioned) -> Response:
    """304: the client's copy is current; the validators again, no body."""
    return Response(status_code=304, headers=validators(row))


_LAST_SECOND = datetime.max.replace(microsecond=0, tzinfo=UTC)


def write_preconditions(
    request: Request, row_id: int, *, required: bool, version_max: int
) -> Expected:
    """What a PATCH or DELETE requires of the row, in RFC 9110's order (13.2.2): If-Match,
    else If-Unmodified-Since; and If-None-Match. None for an unconditional write: none of
    them, or `If-Match: *` alone (any row that exists).

    An unreadable If-Match or If-None-Match refuses the write (412) rather than making it
    unconditional; an If-Unmodified-Since that is not an HTTP date is ignored, as the RFC
    says."""
    tags = if_match(request, required=required)
    versions = None if tags is None or tags.any else versions_named(tags, row_id, version_max)
    changed_before = None
    since = http_date(request.headers.get("if-unmodified-since")) if tags is None else None
    if since is not None and since < _LAST_SECOND:  # after it, no row can have changed
        changed_before = since + timedelta(seconds=1)  # Last-Modified is to the second
    excluded, no_row = _excluded(if_none_match(request), row_id, version_max)
    conditions = Preconditions(versions, excluded, no_row, changed_before)
    return None if conditions == Preconditions() else conditions


def _excluded(
    tags: EntityTags | None, row_id: int, version_max: int
) -> tuple[frozenset[int], bool]:
    """The versions If-None-Match rules out (weak comparison), and whether it rules out
    every row: `*`, or a header with no readable tag."""
    if tags is None:
        return frozenset(), False
    if tags.any or not (tags.strong or tags.weak):
        return frozenset(), True
    return versions_named(tags, row_id, version_max, weak=True), False


def row_headers(singular: str) -> dict[str, Any]:
    """The headers of a response that returns one row, as OpenAPI declares them."""
    return {
        "ETag": {
            "description": f"The {singular}'s entity tag: send it in If-Match to change the "
            f"{singular} safely, or in If-None-Match to revalidate.",
            "schema": {"type": "string", "examples": ['"1.1"']},
        },
        "Last-Modified": {
            "description": f"When the {singular} last changed (an HTTP date).",
            "schema": {"type": "string"},
        },
        "Cache-Control": {
            "description": "`no-cache`: a cache may keep the answer but must revalidate it "
            "(If-None-Match with the ETag) before each use.",
            "schema": {"type": "string", "examples": [CACHE_CONTROL]},
        },
    }


@dataclass(frozen=True, slots=True)
class ConditionalHeaders:
    """The conditional headers of a resource's routes, as OpenAPI declares them."""

    if_match: DeclaredHeader
    if_none_match: DeclaredHeader  # on GET
    if_modified_since: DeclaredHeader
    if_none_match_write: DeclaredHeader  # on PATCH and DELETE
    if_unmodified_since: DeclaredHeader


def conditional_headers(singular: str) -> ConditionalHeaders:
    """If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since."""
    return ConditionalHeaders(
        if_match=DeclaredHeader(
            "If-Match",
            f"Change the {singular} only if it still has this ETag (or one of these); "
            f"otherwise 412 with the current ETag. `*` matches any existing {singular}. "
            "Required (else 428) when the deployment sets REQUIRE_IF_MATCH.",
            '"1.1"',
            max_length=IF_MATCH_MAX_LENGTH,
        ),
        if_none_match=DeclaredHeader(
            "If-None-Match",
            "The ETag of the copy the client holds: 304 without a body while it is current.",
            '"1.1"',
            max_length=IF_MATCH_MAX_LENGTH,
        ),
        if_modified_since=DeclaredHeader(
            "If-Modified-Since",
            f"An HTTP date: 304 if the {singular} has not changed since (ignored when "
            "If-None-Match is sent).",
            "Tue, 24 Nov 2026 13:00:00 GMT",
        ),
        if_none_match_write=DeclaredHeader(
            "If-None-Match",
            f"412 with the current ETag if the {singular} has this ETag (or one of these, "
            f"weakly compared); `*`: 412 for any existing {singular}.",
            '"1.1"',
            max_length=IF_MATCH_MAX_LENGTH,
        ),
        if_unmodified_since=DeclaredHeader(
            "If-Unmodified-Since",
            f"An HTTP date: 412 with the current ETag if the {singular} changed since "
            "(to the second, as Last-Modified says it). Ignored when If-Match is sent, or "
            "when the value is not an HTTP date.",
            "Tue, 24 Nov 2026 13:00:00 GMT",
        ),
    )
