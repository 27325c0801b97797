"""Bad input to the team routes never reaches the database: a clean 4xx JSON object, and
no team is stored or changed. Legal but unusual text is stored byte for byte."""

import json

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.teams.models import HEADQUARTERS_MAX_LENGTH, NAME_MAX_LENGTH, Team
from tests.factories import make_team, read_team
from tests.heroes.test_bad_input import NON_BMP, assert_clean_4xx, json_object, send

VALID_POST_FIELDS = {"name": '"Valid name"', "headquarters": '"Valid tower"'}
TEXT_FIELDS = ("name", "headquarters")


def stored_team(session: Session) -> Team:
    return make_team(session, name="Steady", headquarters="Rock")


def assert_nothing_changed(session: Session, team: Team) -> None:
    """The team reads back as stored, and it is still the only one."""
    stored = read_team(session, team.id)
    assert stored is not None
    assert (stored.name, stored.headquarters, stored.version) == (
        team.name,
        team.headquarters,
        team.version,
    )
    assert len(session.exec(select(Team)).all()) == 1


def post_and_patch(client: TestClient, team: Team, body: bytes) -> list[httpx.Response]:
    return [
        send(client, "POST", "/teams/", body),
        send(client, "PATCH", f"/teams/{team.id}", body),
    ]


def bad_values(field: str, max_length: int) -> list[object]:
    return [
        pytest.param(field, "NaN", id=f"{field}-NaN"),
        pytest.param(field, "1e400", id=f"{field}-1e400"),
        pytest.param(field, "42", id=f"{field}-number"),
        pytest.param(field, "true", id=f"{field}-true"),
        pytest.param(field, '["x"]', id=f"{field}-array"),
        pytest.param(field, '{"x": 1}', id=f"{field}-object"),
        pytest.param(field, "null", id=f"{field}-null"),
        pytest.param(field, '""', id=f"{field}-empty"),
        pytest.param(field, r'"nul\u0000inside"', id=f"{field}-NUL"),
        pytest.param(field, r'"lone \ud800 high"', id=f"{field}-lone-high-surrogate"),
        pytest.param(field, r'"lone \udc00 low"', id=f"{field}-lone-low-surrogate"),
        pytest.param(field, json.dumps("x" * (max_length + 1)), id=f"{field}-256"),
        pytest.param(field, json.dumps(NON_BMP * (max_length + 1)), id=f"{field}-256-non-BMP"),
    ]


BAD_FIELDS = [
    *bad_values("name", NAME_MAX_LENGTH),
    *bad_values("headquarters", HEADQUARTERS_MAX_LENGTH),
]


@pytest.mark.parametrize(("field", "raw_value"), BAD_FIELDS)
def test_bad_field_is_422_on_post_and_patch_and_changes_nothing(
    client: TestClient, session: Session, field: str, raw_value: str
) -> None:
    team = stored_team(session)

    created = send(client, "POST", "/teams/", json_object(VALID_POST_FIELDS | {field: raw_value}))
    patched = send(client, "PATCH", f"/teams/{team.id}", json_object({field: raw_value}))

    for response in (created, patched):
        assert_clean_4xx(response, 422)
        assert response.json()["detail"][0]["loc"] == ["body", field]
    assert_nothing_changed(session, team)


@pytest.mark.parametrize(
    "body",
    [b"[]", b'"x"', b"1", b"null", b"true", b""],
    ids=["array", "string", "number", "null", "true", "empty"],
)
def test_body_that_is_not_a_json_object_is_422(
    client: TestClient, session: Session, body: bytes
) -> None:
    team = stored_team(session)

    for response in post_and_patch(client, team, body):
        assert_clean_4xx(response, 422)
    assert_nothing_changed(session, team)


@pytest.mark.parametrize(
    "body",
    [b"{bad", b'{"name": }', b'{"name": "Trunc', b'{"name": "A", "headquarters": "B",}'],
    ids=["unquoted", "missing-value", "truncated", "trailing-comma"],
)
def test_invalid_json_is_400(client: TestClient, session: Session, body: bytes) -> None:
    team = stored_team(session)

    for response in post_and_patch(client, team, body):
        assert_clean_4xx(response, 400)
        assert response.json() == {"detail": "Malformed JSON body"}
    assert_nothing_changed(session, team)


def test_invalid_utf8_is_400(client: TestClient, session: Session) -> None:
    team = stored_team(session)

    for response in post_and_patch(client, team, b'{"name": "\xed\xa0\x80", "headquarters": "x"}'):
        assert_clean_4xx(response, 400)
    assert_nothing_changed(session, team)


# --- the list's query string ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("power=1", ["query"]),
        ("sort=age", ["query", "sort"]),
        ("sort=headquarters", ["query", "sort"]),
        ("sort=name,-name", ["query", "sort"]),
        ("sort=", ["query", "sort"]),
        ("sort=--name", ["query", "sort"]),
        ("cursor=garbage", ["query", "cursor"]),
        ("cursor=", ["query", "cursor"]),
        ("offset=-1", ["query", "offset"]),
        (f"offset={10**20}", ["query", "offset"]),
        ("limit=0x10", ["query", "limit"]),
        ("limit=101", ["query", "limit"]),
        ("name=", ["query", "name"]),
        ("name=a%00b", ["query", "name"]),
        (f"name={'x' * (NAME_MAX_LENGTH + 1)}", ["query", "name"]),
        ("name_contains=", ["query", "name_contains"]),
        (f"name_contains={'x' * (NAME_MAX_LENGTH + 1)}", ["query", "name_contains"]),
        ("headquarters=", ["query", "headquarters"]),
        (f"headquarters={'x' * (HEADQUARTERS_MAX_LENGTH + 1)}", ["query", "headquarters"]),
    ],
)
def test_bad_list_parameters_are_422_naming_the_parameter(
    client: TestClient, session: Session, query: str, loc: list[str]
) -> None:
    stored_team(session)

    response = client.get(f"/teams/?{query}")

    assert_clean_4xx(response, 422)
    assert [problem["loc"] for problem in response.json()["detail"]] == [loc]


def test_a_heroes_cursor_is_no_teams_cursor(client: TestClient, session: Session) -> None:
    stored_team(session)
    for _ in range(3):
        client.post("/heroes/", json={"name": "H", "secret_name": "s"})
    heroes = client.get("/heroes/?limit=1")
    cursor = httpx.URL(heroes.links["next"]["url"]).params["cursor"]

    response = client.get("/teams/", params={"cursor": cursor, "limit": 1})

    assert_clean_4xx(response, 422)


def test_a_cursor_made_for_another_sort_is_422(client: TestClient, session: Session) -> None:
    for _ in range(3):
        make_team(session)
    by_name = client.get("/teams/?sort=name&limit=1")
    cursor = httpx.URL(by_name.links["next"]["url"]).params["cursor"]

    assert client.get("/teams/", params={"cursor": cursor, "limit": 1, "sort": "name"}).is_success
    response = client.get("/teams/", params={"cursor": cursor, "limit": 1, "sort": "-name"})

    assert_clean_4xx(response, 422)


# --- ids in the path -----------------------------------------------------------------------


def requests_on_one_team(client: TestClient, team_id: int | str) -> list[httpx.Response]:
    return [
        client.get(f"/teams/{team_id}"),
        client.patch(f"/teams/{team_id}", json={"name": "Changed"}),
        client.delete(f"/teams/{team_id}"),
    ]


def test_path_id_past_32_bits_is_404(client: TestClient, session: Session) -> None:
    team = stored_team(session)

    for response in requests_on_one_team(client, 2**31):
        assert_clean_4xx(response, 404)
        assert response.json() == {"detail": "Team not found"}
    assert_nothing_changed(session, team)


@pytest.mark.parametrize("team_id", [2**63, -(2**63) - 1, 10**30])
def test_path_id_past_64_bits_is_422_naming_the_path(
    client: TestClient, session: Session, team_id: int
) -> None:
    team = stored_team(session)

    for response in requests_on_one_team(client, team_id):
        assert_clean_4xx(response, 422)
        (problem,) = response.json()["detail"]
        assert problem["loc"] == ["path", "team_id"]
    assert_nothing_changed(session, team)


@pytest.mark.parametrize("spelling", ["0{id}", "+{id}", "{id}.0", "%20{id}", "0_{id}", "abc"])
def test_an_id_not_written_as_str_int_writes_it_is_422(
    client: TestClient, session: Session, spelling: str
) -> None:
    team = stored_team(session)

    for response in requests_on_one_team(client, spelling.format(id=team.id)):
        assert_clean_4xx(response, 422)
        assert response.json()["detail"][0]["loc"] == ["path", "team_id"]
    assert_nothing_changed(session, team)


def test_a_huge_team_id_in_a_heroes_body_is_422_not_5xx(
    client: TestClient, session: Session
) -> None:
    stored_team(session)
    created = client.post("/heroes/", json={"name": "H", "secret_name": "s", "team_id": 2**64})
    hero_id = client.post("/heroes/", json={"name": "H", "secret_name": "s"}).json()["id"]
    patched = client.patch(f"/heroes/{hero_id}", json={"team_id": 2**64})

    for response in (created, patched):
        assert_clean_4xx(response, 422)
        assert response.json()["detail"][0]["loc"] == ["body", "team_id"]
    assert len(client.get("/heroes/").json()) == 1


# --- legal but unusual text is kept exactly ------------------------------------------------

ODD_VALUES = [
    pytest.param("\U0001f9b8\u200d\u2640\ufe0f", id="emoji-zwj"),
    pytest.param("مرحبا", id="arabic"),
    pytest.param("Robert'); DROP TABLE team;--", id="sql-looking"),
    pytest.param('O\'Brien "Q" back\\slash %_', id="quotes-backslashes-like"),
    pytest.param("  padded  ", id="padded"),
    pytest.param(NON_BMP * NAME_MAX_LENGTH, id="max-length-non-BMP"),
    pytest.param("x" * NAME_MAX_LENGTH, id="max-length-ascii"),
]


@pytest.mark.parametrize("value", ODD_VALUES)
def test_odd_but_legal_text_is_stored_exactly_and_found_by_the_filters(
    client: TestClient, session: Session, value: str
) -> None:
    created = client.post("/teams/", json={"name": value, "headquarters": value})
    assert created.status_code == 200, created.text
    team_id = created.json()["id"]
    patched = client.patch(f"/teams/{team_id}", json={"headquarters": value + "!"[:0]})

    assert patched.json() == {"name": value, "headquarters": value, "id": team_id}
    assert client.get("/teams/", params={"name": value}).json() == [patched.json()]
    assert client.get("/teams/", params={"headquarters": value}).json() == [patched.json()]
    stored = read_team(session, team_id)
    assert stored is not None
    assert (stored.name, stored.headquarters) == (value, value)


def test_names_that_a_padding_collation_would_equate_are_distinct(client: TestClient) -> None:
    for name in ("Preventers", "Preventers "):
        response = client.post("/teams/", json={"name": name, "headquarters": "x"})
        assert response.status_code == 200, response.text

    assert [team["name"] for team in client.get("/teams/?name=Preventers").json()] == [
        "Preventers"
    ]
