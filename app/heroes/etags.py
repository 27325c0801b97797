"""A hero's entity tag: `"<id>.<version>"`, strong, changed by every change to the hero.

The id is in the tag so that a tag copied from one hero never matches another.
"""

from fastapi import Request

from app.core.conditional import (
    IF_MATCH_MAX_LENGTH,
    DeclaredHeader,
    EntityTags,
    if_match,
    quoted,
)
from app.heroes.models import VERSION_MAX, StoredHero


def opaque_tag(hero: StoredHero) -> str:
    return f"{hero.id}.{hero.version}"


def hero_etag(hero: StoredHero) -> str:
    return quoted(opaque_tag(hero))


IF_MATCH = DeclaredHeader(
    "If-Match",
    "Change the hero only if it still has this ETag (or one of these); otherwise 412 with "
    "the current ETag. `*` matches any existing hero. Required (else 428) when the "
    "deployment sets REQUIRE_IF_MATCH.",
    '"1.1"',
    max_length=IF_MATCH_MAX_LENGTH,
)
IF_NONE_MATCH = DeclaredHeader(
    "If-None-Match",
    "The ETag of the copy the client holds: 304 without a body while it is current.",
    '"1.1"',
)
IF_MODIFIED_SINCE = DeclaredHeader(
    "If-Modified-Since",
    "An HTTP date: 304 if the hero has not changed since (ignored when If-None-Match is sent).",
    "Tue, 24 Nov 2026 13:00:00 GMT",
)


def expected_versions(request: Request, hero_id: int) -> frozenset[int] | None:
    """The versions a write may find the hero at, from If-Match (empty: none will do), or
    None for an unconditional write: no If-Match, or `*` (any hero that exists)."""
    required: bool = request.app.state.settings.require_if_match
    tags = if_match(request, required=required)
    if tags is None or tags.any:
        return None
    return versions_named(tags, hero_id)


def versions_named(tags: EntityTags, hero_id: int) -> frozenset[int]:
    """The versions of this hero that strong tags name (If-Match compares strongly: a weak
    tag, or one of another hero, names none)."""
    prefix = f"{hero_id}."
    named = (_version(tag.removeprefix(prefix)) for tag in tags.strong if tag.startswith(prefix))
    return frozenset(version for version in named if version is not None)


def _version(text: str) -> int | None:
    """The version a tag spells as this service writes it (no sign, no leading zeros)."""
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(VERSION_MAX))):
        return None
    version = int(text)
    return version if str(version) == text and version <= VERSION_MAX else None
