"""A row's validators in HTTP: `ETag` and `Last-Modified` on every answer that returns one
row, 304 for a client whose copy is current, and the versions an If-Match lets a write find.

Conditional headers are read from the request here, not declared as FastAPI parameters:
each parameter FastAPI resolves costs about 8 µs a request, more than the query behind GET
one (bench/PROFILE.md). Routes declare them to OpenAPI with `declared_headers`.
"""

from datetime import datetime
from email.utils import format_datetime
from typing import Any, Protocol

from fastapi import Request, Response

from app.http.conditional import (
    IF_MATCH_MAX_LENGTH,
    DeclaredHeader,
    entity_tag,
    if_match,
    modified_since,
    none_match,
    opaque_tag,
    versions_named,
)
from app.kit.rows import Expected


class Versioned(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def updated_at(self) -> datetime: ...


def validators(row: Versioned) -> dict[str, str]:
    """The headers a client revalidates or conditions a write with."""
    return {
        "ETag": entity_tag(row.id, row.version),
        "Last-Modified": format_datetime(row.updated_at, usegmt=True),
    }


def is_current(row: Versioned, request: Request) -> bool:
    """Whether the client's copy is current, so that GET answers 304 (RFC 9110, 13.2.2:
    If-None-Match, when present and readable, decides; else If-Modified-Since)."""
    headers = request.headers
    passes = none_match(headers.get("if-none-match"), opaque_tag(row.id, row.version))
    if passes is None:
        passes = modified_since(headers.get("if-modified-since"), row.updated_at)
    return passes is False


def not_modified(row: Versioned) -> Response:
    """304: the client's copy is current; the validators again, no body."""
    return Response(status_code=304, headers=validators(row))


def expected_versions(
    request: Request, row_id: int, *, required: bool, version_max: int
) -> Expected:
    """The versions a write may find the row at, from If-Match (empty: none will do), or
    None for an unconditional write: no If-Match, or `*` (any row that exists)."""
    tags = if_match(request, required=required)
    if tags is None or tags.any:
        return None
    return versions_named(tags, row_id, version_max)


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
    }


def conditional_headers(singular: str) -> tuple[DeclaredHeader, DeclaredHeader, DeclaredHeader]:
    """If-Match, If-None-Match and If-Modified-Since, as a resource's routes declare them."""
    return (
        DeclaredHeader(
            "If-Match",
            f"Change the {singular} only if it still has this ETag (or one of these); "
            f"otherwise 412 with the current ETag. `*` matches any existing {singular}. "
            "Required (else 428) when the deployment sets REQUIRE_IF_MATCH.",
            '"1.1"',
            max_length=IF_MATCH_MAX_LENGTH,
        ),
        DeclaredHeader(
            "If-None-Match",
            "The ETag of the copy the client holds: 304 without a body while it is current.",
            '"1.1"',
        ),
        DeclaredHeader(
            "If-Modified-Since",
            f"An HTTP date: 304 if the {singular} has not changed since (ignored when "
            "If-None-Match is sent).",
            "Tue, 24 Nov 2026 13:00:00 GMT",
        ),
    )
