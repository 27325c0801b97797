"""Property tests: for random heroes, filters and sorts, the API answers what the plain
Python model in listing_model.py answers, on each backend; cursor and offset walks give
the same sequence, forwards and backwards.

The tests use the session's app and engine (no function-scoped fixture): each example
stores its own heroes after emptying the table.
"""

import re
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from app.heroes.models import AGE_MAX
from tests.heroes.listing_model import Stored, bodies, expected, store

# ASCII letters in both cases, LIKE's metacharacters, spaces and tabs (trailing ones too:
# a PAD SPACE collation would ignore them), and letters that Unicode case tables fold but
# the list does not: e and E acute, sharp s and capital sharp s, dotted capital I and
# dotless i, the three sigmas, the Kelvin sign; and an emoji. Few, so that names collide.
ALPHABET = [
    *"aAkK%_\\ \t",
    *"\u00e9\u00c9\u00df\u1e9e\u0130\u0131\u03a3\u03c3\u03c2\u212a",
    "\U0001f9b8",
]
names = st.text(st.sampled_from(ALPHABET), min_size=1, max_size=4)
ages = st.one_of(st.none(), st.integers(0, 4), st.just(AGE_MAX))
heroes_strategy = st.lists(st.tuples(names, ages), max_size=12)
SORT_KEYS = ("id", "name", "age")
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
LINK = re.compile(r'<([^>]*)>; rel="(\w+)"')


@st.composite
def sorts(draw: st.DrawFn) -> str | None:
    keys = draw(st.lists(st.sampled_from(SORT_KEYS), unique=True, max_size=3))
    if not keys:
        return None
    return ",".join(("-" if draw(st.booleans()) else "") + key for key in keys)


@st.composite
def queries(draw: st.DrawFn, heroes: list[Stored]) -> dict[str, str]:
    """Query parameters: filters (often with values the heroes have) and a sort."""
    known_names = st.sampled_from([hero.name for hero in heroes]) if heroes else names
    age_values = st.integers(0, 5).map(str)
    params = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "name": st.one_of(known_names, names),
                "name_contains": st.one_of(
                    known_names.map(lambda name: name[len(name) // 3 :][:2]), names
                ),
                "age": age_values,
                "min_age": age_values,
                "max_age": age_values,
                "has_age": st.sampled_from(["true", "false"]),
            },
        )
    )
    sort = draw(sorts())
    return params | ({"sort": sort} if sort else {})


def links(response: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("link", ""))}


def walk(client: TestClient, first: str, params: dict[str, Any], rel: str) -> list[Any]:
    """Every hero from `first` on, following `rel` links; refuses to loop."""
    seen: list[Any] = []
    response = client.get(first, params=params or None)  # {} would drop first's query
    for _ in range(100):
        assert response.status_code == 200, response.text
        page = response.json()
        seen += page if rel == "next" else page[::-1]
        following = links(response).get(rel)
        if following is None:
            return seen
        response = client.get(following)
    raise AssertionError("more than 100 pages")


@PROPERTY_SETTINGS
@given(data=st.data(), heroes=heroes_strategy)
def test_filters_and_sorts_answer_what_the_model_answers(
    running_client: TestClient, engine: Engine, data: st.DataObject, heroes: list[Any]
) -> None:
    stored = store(engine, heroes)
    params = data.draw(queries(stored))

    response = running_client.get("/heroes/", params=params, headers={"Prefer": "count=exact"})

    assert response.status_code == 200, response.text
    answer = expected(stored, params)
    assert response.json() == bodies(answer)
    assert response.headers["x-total-count"] == str(len(answer))


@PROPERTY_SETTINGS
@given(data=st.data(), heroes=heroes_strategy, limit=st.integers(1, 4))
def test_cursor_and_offset_walks_give_the_models_sequence_both_ways(
    running_client: TestClient,
    engine: Engine,
    data: st.DataObject,
    heroes: list[Any],
    limit: int,
) -> None:
    stored = store(engine, heroes)
    params = data.draw(queries(stored)) | {"limit": str(limit)}
    answer = bodies(expected(stored, params))

    forwards = walk(running_client, "/heroes/", params, "next")
    by_offset = walk(running_client, "/heroes/", params | {"offset": "0"}, "next")
    backwards = walk(running_client, _last_page_url(running_client, params), {}, "prev")

    assert forwards == answer
    assert by_offset == answer
    assert backwards == answer[::-1]


def _last_page_url(client: TestClient, params: dict[str, str]) -> str:
    """The URL of the walk's last page (the one without a next link)."""
    url = "/heroes/?" + str(httpx.QueryParams(params))
    for _ in range(100):
        following = links(client.get(url)).get("next")
        if following is None:
            return url
        url = following
    raise AssertionError("more than 100 pages")
