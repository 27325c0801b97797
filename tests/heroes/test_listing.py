"""GET /heroes/: filters, sorting, totals and links, by example, on every backend.

The property tests (test_listing_properties.py) cover random data; these pin each rule
with data a reader can check by eye.
"""

import re
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import load_settings
from app.heroes.models import AGE_MAX
from app.kit.listing import pages
from app.main import create_app
from tests.heroes.listing_model import Stored, bodies, store

LINK = re.compile(r'<([^>]*)>; rel="(\w+)"')
CREW = [
    ("Deadpond", None),
    ("Rusty-Man", 48),
    ("Spider-Boy", None),
    ("Tarantula", 32),
    ("Black Lion", 35),
    ("dr. Weird", 48),
    ("Captain North America", 93),
]


def links(response: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("link", ""))}


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [hero["name"] for hero in response.json()]


def listed(client: TestClient, **params: Any) -> list[str]:
    return names(client.get("/heroes/", params=params))


@pytest.fixture
def crew(client: TestClient, engine: Engine) -> list[Stored]:
    return store(engine, CREW)


# --- the tutorial's call ----------------------------------------------------------------


def test_plain_list_is_the_tutorials_page_in_id_order(
    client: TestClient, crew: list[Stored]
) -> None:
    response = client.get("/heroes/")

    assert response.status_code == 200
    assert response.json() == bodies(crew)
    assert "link" not in response.headers
    assert "x-total-count" not in response.headers


def test_plain_offset_and_limit_page_as_before(client: TestClient, crew: list[Stored]) -> None:
    response = client.get("/heroes/", params={"offset": 2, "limit": 3})

    assert response.json() == bodies(crew[2:5])


# --- filters ----------------------------------------------------------------------------


def test_name_matches_exactly_case_and_trailing_spaces_included(
    client: TestClient, engine: Engine
) -> None:
    store(engine, [("Deadpond", 1), ("deadpond", 2), ("Deadpond ", 3), ("Deadpond\t", 4)])

    assert listed(client, name="Deadpond") == ["Deadpond"]
    assert listed(client, name="Deadpond ") == ["Deadpond "]


def test_name_contains_folds_ascii_letters_only(client: TestClient, engine: Engine) -> None:
    store(engine, [("Zoë", 1), ("ZOË", 2), ("zoe", 3), ("\u212aelvin", 4), ("kelvin", 5)])

    assert listed(client, name_contains="zo") == ["Zoë", "ZOË", "zoe"]
    assert listed(client, name_contains="ë") == ["Zoë"]  # Ë is another letter
    assert listed(client, name_contains="K") == ["kelvin"]  # not the Kelvin sign


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("%", ["100%"]),
        ("_", ["snake_case"]),
        ("\\", ["back\\slash"]),
        ("e_c", ["snake_case"]),
        ("0%", ["100%"]),
    ],
)
def test_name_contains_takes_like_wildcards_literally(
    client: TestClient, engine: Engine, text: str, found: list[str]
) -> None:
    store(engine, [("100%", 1), ("1000", 2), ("snake_case", 3), ("snakeXcase", 4)])
    store(engine, [("back\\slash", 5), ("backslash", 6)], empty=False)

    assert listed(client, name_contains=text) == found


def test_age_filters_are_inclusive_and_combine_with_and(
    client: TestClient, crew: list[Stored]
) -> None:
    assert listed(client, age=48) == ["Rusty-Man", "dr. Weird"]
    assert listed(client, min_age=35, max_age=48) == ["Rusty-Man", "Black Lion", "dr. Weird"]
    assert listed(client, min_age=40, name_contains="man") == ["Rusty-Man"]
    assert listed(client, age=48, max_age=40) == []


def test_has_age_chooses_heroes_with_or_without_an_age(
    client: TestClient, crew: list[Stored]
) -> None:
    assert listed(client, has_age="false") == ["Deadpond", "Spider-Boy"]
    assert len(listed(client, has_age="true")) == 5
    assert listed(client, has_age="false", min_age=1) == []


# --- sorting ----------------------------------------------------------------------------


def test_descending_age_puts_heroes_without_age_first(
    client: TestClient, crew: list[Stored]
) -> None:
    assert listed(client, sort="-age,name") == [
        "Deadpond",
        "Spider-Boy",
        "Captain North America",
        "Rusty-Man",
        "dr. Weird",
        "Black Lion",
        "Tarantula",
    ]


def test_ascending_age_puts_heroes_without_age_last(
    client: TestClient, crew: list[Stored]
) -> None:
    assert listed(client, sort="age")[-2:] == ["Deadpond", "Spider-Boy"]
    assert listed(client, sort="age")[0] == "Tarantula"


def test_names_sort_by_code_point(client: TestClient, engine: Engine) -> None:
    store(engine, [("é", 1), ("a ", 2), ("a", 3), ("B", 4), ("a\t", 5), ("🦸", 6), ("b", 7)])

    assert listed(client, sort="name") == ["B", "a", "a\t", "a ", "b", "é", "🦸"]
    assert listed(client, sort="-name") == ["🦸", "é", "b", "a ", "a\t", "a", "B"]


def test_id_breaks_ties_in_the_direction_of_the_last_key(
    client: TestClient, engine: Engine
) -> None:
    heroes = store(engine, [("Twin", 1), ("Twin", 1), ("Twin", 1)])
    ids = [hero.id for hero in heroes]

    def listed_ids(sort: str) -> list[int]:
        return [hero["id"] for hero in client.get("/heroes/", params={"sort": sort}).json()]

    assert listed_ids("name") == ids
    assert listed_ids("-name") == ids[::-1]
    assert listed_ids("-age,name") == ids
    assert listed_ids("-name,id") == ids
    assert listed_ids("-id,name") == ids[::-1]


# --- totals -----------------------------------------------------------------------------


def test_prefer_count_exact_counts_the_filtered_heroes_on_every_page(
    client: TestClient, crew: list[Stored]
) -> None:
    prefer = {"Prefer": "return=minimal, count=exact"}

    response = client.get("/heroes/", params={"min_age": 35, "limit": 1}, headers=prefer)

    assert len(response.json()) == 1
    assert response.headers["x-total-count"] == "4"
    assert response.headers["preference-applied"] == "count=exact"


def test_without_prefer_no_count_runs(
    client: TestClient, crew: list[Stored], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*_args: object) -> int:
        raise AssertionError("counted without being asked")

    monkeypatch.setattr(pages, "count_rows", refuse)

    response = client.get("/heroes/", headers={"Prefer": "count=planned"})

    assert response.status_code == 200
    assert "x-total-count" not in response.headers
    assert "preference-applied" not in response.headers


# --- links and paging -------------------------------------------------------------------


def test_offset_links_keep_the_other_parameters(client: TestClient, crew: list[Stored]) -> None:
    params = {"sort": "-age,name", "min_age": "0", "offset": "2", "limit": "2"}

    response = client.get("/heroes/", params=params)

    assert links(response) == {
        "next": "http://testserver/heroes/?sort=-age%2Cname&min_age=0&offset=4&limit=2",
        "prev": "http://testserver/heroes/?sort=-age%2Cname&min_age=0&offset=0&limit=2",
    }


def test_offset_paging_has_no_next_after_a_short_page_and_no_prev_at_the_start(
    client: TestClient, crew: list[Stored]
) -> None:
    assert "prev" not in links(client.get("/heroes/", params={"offset": 0, "limit": 3}))
    last = client.get("/heroes/", params={"offset": 6, "limit": 3})
    assert links(last) == {"prev": "http://testserver/heroes/?offset=3&limit=3"}


def test_the_tutorials_offset_0_still_links_by_offset(
    client: TestClient, crew: list[Stored]
) -> None:
    # /openapi.json publishes no default for offset, but a client that sends it keeps
    # paging by offset, as the tutorial's did.
    first = client.get("/heroes/?offset=0&limit=2")

    assert [hero["id"] for hero in first.json()] == [hero.id for hero in crew[:2]]
    assert links(first) == {"next": "http://testserver/heroes/?offset=2&limit=2"}


def test_a_first_page_without_offset_links_next_by_cursor(
    client: TestClient, crew: list[Stored]
) -> None:
    first = client.get("/heroes/", params={"sort": "-age,name", "limit": 3})
    second = client.get(links(first)["next"])
    back = client.get(links(second)["prev"])

    assert set(links(first)) == {"next"}
    assert "cursor=" in links(first)["next"]
    assert "sort=-age%2Cname" in links(first)["next"]
    assert names(second) == ["Rusty-Man", "dr. Weird", "Black Lion"]
    assert back.json() == first.json()


def test_paging_past_the_end_is_an_empty_page(client: TestClient, crew: list[Stored]) -> None:
    by_offset = client.get("/heroes/", params={"offset": 100, "limit": 5})
    full = client.get("/heroes/", params={"limit": 7})
    after_the_last = client.get(links(full)["next"])

    assert by_offset.json() == []
    assert links(by_offset) == {"prev": "http://testserver/heroes/?offset=95&limit=5"}
    assert after_the_last.json() == []
    assert set(links(after_the_last)) == {"prev"}
    assert client.get(links(after_the_last)["prev"]).json() == bodies(crew)


def test_limit_zero_has_no_links(client: TestClient, crew: list[Stored]) -> None:
    response = client.get("/heroes/", params={"limit": 0, "offset": 3})

    assert response.json() == []
    assert "link" not in response.headers


def test_cursor_pages_may_change_limit_and_fields(client: TestClient, crew: list[Stored]) -> None:
    first = client.get("/heroes/", params={"sort": "name", "limit": 2})
    cursor = links(first)["next"].split("cursor=")[1]

    response = client.get(
        "/heroes/",
        params={"sort": "name", "limit": 1, "fields": "created_at", "cursor": cursor},
    )

    assert names(response) == ["Deadpond"]
    assert set(response.json()[0]) == {"id", "name", "age", "created_at"}


# --- what is refused --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "location"),
    [
        pytest.param({"power": "flightpath"}, ["query"], id="unknown-parameter"),
        pytest.param({"sort": "superpower"}, ["query", "sort"], id="unknown-sort-key"),
        pytest.param({"sort": "name,-name"}, ["query", "sort"], id="key-twice"),
        pytest.param({"sort": "name,,"}, ["query", "sort"], id="empty-key"),
        pytest.param({"sort": "--age"}, ["query", "sort"], id="double-minus"),
        pytest.param({"age": "very-old"}, ["query", "age"], id="age-not-a-number"),
        pytest.param({"min_age": "-73519"}, ["query", "min_age"], id="negative-min-age"),
        pytest.param({"max_age": str(AGE_MAX + 1)}, ["query", "max_age"], id="max-age-too-big"),
        pytest.param({"has_age": "maybe"}, ["query", "has_age"], id="has-age-not-a-bool"),
        pytest.param({"name": "x" * 256}, ["query", "name"], id="name-too-long"),
        pytest.param({"name_contains": ""}, ["query", "name_contains"], id="empty-contains"),
        pytest.param({"limit": "73519"}, ["query", "limit"], id="limit-over-100"),
        pytest.param({"cursor": "not-a-cursor"}, ["query", "cursor"], id="cursor-garbage"),
        pytest.param({"cursor": "%%%%%"}, ["query", "cursor"], id="cursor-not-base64"),
        pytest.param(
            {"cursor": "", "offset": "73519"}, ["query", "cursor"], id="cursor-and-offset"
        ),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter_never_the_input(
    client: TestClient, params: dict[str, str], location: list[str]
) -> None:
    response = client.get("/heroes/", params=params)

    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == location
    assert problem["msg"]
    assert set(problem) <= {"type", "loc", "msg", "ctx"}  # no "input": pydantic's echo of it
    for value in params.values():
        # Each value long and odd enough that finding it in the body means it was echoed;
        # an empty one cannot be seen there, which the "input" check above covers.
        assert value == "" or len(value) >= 5, f"{value!r}: too short to catch an echo"
        assert value == "" or value not in response.text


def test_unknown_parameter_message_names_every_parameter(client: TestClient) -> None:
    message = client.get("/heroes/", params={"page": "2"}).json()["detail"][0]["msg"]

    for parameter in ("name", "name_contains", "min_age", "has_age", "sort", "cursor"):
        assert parameter in message


def test_unknown_sort_key_message_names_the_keys(client: TestClient) -> None:
    message = client.get("/heroes/", params={"sort": "power"}).json()["detail"][0]["msg"]

    assert "id, name and age" in message


def test_docs_describe_every_list_parameter_with_an_example(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/heroes/"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}

    for name in ("name", "name_contains", "age", "min_age", "max_age", "has_age", "sort"):
        assert parameters[name]["in"] == "query"
        assert parameters[name]["description"], name
        assert parameters[name]["schema"]["examples"], name
    assert "no age" in parameters["sort"]["description"]
    assert parameters["prefer"]["in"] == "header"
    assert parameters["cursor"]["description"]


def test_a_browser_on_an_allowed_origin_may_ask_for_totals_and_read_the_headers() -> None:
    settings = load_settings(database_url="sqlite://", cors_allow_origins="https://ui.example")
    client = TestClient(create_app(settings))  # no database: both answers come before it
    origin = {"Origin": "https://ui.example"}
    asks = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "prefer"}

    preflight = client.options("/heroes/", headers=origin | asks)
    answer = client.get("/heroes/", params={"sort": "power"}, headers=origin)

    assert preflight.status_code == 200
    assert "prefer" in preflight.headers["access-control-allow-headers"].lower()
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert {"link", "x-total-count", "preference-applied"} <= set(exposed.split(", "))
