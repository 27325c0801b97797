"""A hero's entity tag: `"<id>.<version>"`, strong, changed by every change to the hero.

The id is in the tag so that a tag copied from one hero never matches another.
"""

from app.core.conditional import EntityTags, quoted
from app.heroes.models import VERSION_MAX, StoredHero


def opaque_tag(hero: StoredHero) -> str:
    return f"{hero.id}.{hero.version}"


def hero_etag(hero: StoredHero) -> str:
    return quoted(opaque_tag(hero))


def expected_versions(if_match: EntityTags | None, hero_id: int) -> frozenset[int] | None:
    """The versions a write may find the hero at (empty: none will do), or None for an
    unconditional write: no If-Match, or `*` (any hero that exists)."""
    if if_match is None or if_match.any:
        return None
    return versions_named(if_match, hero_id)


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
