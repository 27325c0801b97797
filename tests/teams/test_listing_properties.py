"""Property tests: for random teams, filters and sorts, the team list answers what the plain
Python model in listing_model.py answers, on each backend; cursor and offset walks give
the same sequence, forwards and backwards, never skipping or repeating a team.

The tests use the session's app and engine (no function-scoped fixture): each example
stores its own teams after emptying the table.
"""

from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.heroes.test_listing_properties import ALPHABET, links, walk
from tests.teams.listing_model import Stored, bodies, expected, store

texts = st.text(st.sampled_from(ALPHABET), min_size=1, max_size=4)
SORTS = [None, "id", "-id", "name", "-name", "name,id", "-name,-id", "name,-id", "id,name"]
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def unique_teams(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Teams with distinct names (the database keeps them so) and headquarters that
    often repeat."""
    names = draw(st.lists(texts, unique=True, max_size=12))
    places = draw(st.lists(texts, min_size=1, max_size=3))
    return [(name, draw(st.sampled_from(places))) for name in names]


@st.composite
def queries(draw: st.DrawFn, teams: list[Stored]) -> dict[str, str]:
    """Query parameters: filters (often with values the teams have) and a sort."""
    known_names = st.sampled_from([team.name for team in teams]) if teams else texts
    known_places = st.sampled_from([team.headquarters for team in teams]) if teams else texts
    params = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "name": st.one_of(known_names, texts),
                "name_contains": st.one_of(
                    known_names.map(lambda name: name[len(name) // 3 :][:2]), texts
                ),
                "headquarters": st.one_of(known_places, texts),
            },
        )
    )
    sort = draw(st.sampled_from(SORTS))
    return params | ({"sort": sort} if sort else {})


@PROPERTY_SETTINGS
@given(data=st.data(), teams=unique_teams())
def test_filters_and_sorts_answer_what_the_model_answers(
    running_client: TestClient, engine: Engine, data: st.DataObject, teams: list[Any]
) -> None:
    stored = store(engine, teams)
    params = data.draw(queries(stored))

    response = running_client.get("/teams/", params=params, headers={"Prefer": "count=exact"})

    assert response.status_code == 200, response.text
    answer = expected(stored, params)
    assert response.json() == bodies(answer)
    assert response.headers["x-total-count"] == str(len(answer))


@PROPERTY_SETTINGS
@given(data=st.data(), teams=unique_teams(), limit=st.integers(1, 4))
def test_cursor_and_offset_walks_give_the_models_sequence_both_ways(
    running_client: TestClient,
    engine: Engine,
    data: st.DataObject,
    teams: list[Any],
    limit: int,
) -> None:
    stored = store(engine, teams)
    params = data.draw(queries(stored)) | {"limit": str(limit)}
    answer = bodies(expected(stored, params))

    forwards = walk(running_client, "/teams/", params, "next")
    by_offset = offset_walk(running_client, params, limit)
    backwards = walk(running_client, last_page_url(running_client, params), {}, "prev")

    assert forwards == answer
    assert by_offset == answer
    assert backwards == answer[::-1]


def offset_walk(client: TestClient, params: dict[str, str], limit: int) -> list[Any]:
    """Every team by `offset`, a page at a time, until a short page."""
    seen: list[Any] = []
    for page_number in range(100):
        page = client.get("/teams/", params=params | {"offset": str(page_number * limit)})
        assert page.status_code == 200, page.text
        seen += page.json()
        if len(page.json()) < limit:
            return seen
    raise AssertionError("more than 100 pages")


def last_page_url(client: TestClient, params: dict[str, str]) -> str:
    url = "/teams/?" + str(httpx.QueryParams(params))
    for _ in range(100):
        following = links(client.get(url)).get("next")
        if following is None:
            return url
        url = following
    raise AssertionError("more than 100 pages")
