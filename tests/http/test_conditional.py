"""Entity-tag lists as RFC 9110 writes them (section 8.8.3 and the list rule of 5.6.1)."""

import pytest

from app.http.conditional import EntityTags, parse_entity_tags


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ('"1.2"', EntityTags(strong=frozenset({"1.2"}))),
        (' "a" , W/"b",', EntityTags(strong=frozenset({"a"}), weak=frozenset({"b"}))),
        (', "a",, "b"', EntityTags(strong=frozenset({"a", "b"}))),  # empty elements
        ('"a,b", "c"', EntityTags(strong=frozenset({"a,b", "c"}))),  # a comma inside a tag
        ("*", EntityTags(any=True)),
        (" * ", EntityTags(any=True)),
    ],
)
def test_lists_of_tags_are_read(header: str, tags: EntityTags) -> None:
    assert parse_entity_tags(header) == tags


@pytest.mark.parametrize("header", ["", " ", ",", "x", '"a', '"a""b"', 'w/"a"', '"a" b', '*, "a"'])
def test_anything_else_is_unreadable(header: str) -> None:
    assert parse_entity_tags(header) is None
