"""Heroes in teams, on every backend: `team_id` on POST and PATCH (a team that does not
exist is 422 and nothing is stored), `?fields=team_id`, `?expand=team`, and the list's
`team_id` and `has_team` filters. A hero's plain body stays exactly {"id","name","age"}."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.heroes.models import Hero
from app.teams.models import Team
from tests.factories import make_hero, make_team, read_stored, stored_id
from tests.heroes.test_bad_input import assert_clean_4xx

HERO_KEYS = ["name", "age", "id"]
MISSING_TEAM = {
    "detail": [
        {"type": "missing_reference", "loc": ["body", "team_id"], "msg": "No team has this id"}
    ]
}


def team_body(team: Team) -> dict[str, Any]:
    return {"name": team.name, "headquarters": team.headquarters, "id": team.id}


def hero_body(hero: Hero) -> dict[str, Any]:
    return {"name": hero.name, "age": hero.age, "id": hero.id}


def heroes_stored(session: Session) -> list[Hero]:
    session.rollback()
    session.expunge_all()
    return list(session.exec(select(Hero)).all())


# --- joining, moving, leaving --------------------------------------------------------------


def test_post_with_a_team_stores_it_and_keeps_the_tutorials_body(
    client: TestClient, session: Session
) -> None:
    team = make_team(session)

    response = client.post(
        "/heroes/", json={"name": "Deadpond", "secret_name": "Dive", "team_id": team.id}
    )

    assert response.status_code == 200
    assert list(response.json()) == HERO_KEYS
    stored = read_stored(session, response.json()["id"])
    assert stored is not None
    assert stored.team_id == team.id


def test_patch_moves_a_hero_between_teams_and_null_leaves(
    client: TestClient, session: Session
) -> None:
    first, second = make_team(session), make_team(session)
    hero = make_hero(session, team_id=first.id)

    moved = client.patch(f"/heroes/{hero.id}", json={"team_id": second.id})
    kept = client.patch(f"/heroes/{hero.id}", json={"age": 99})
    assert (moved.status_code, kept.status_code) == (200, 200)
    assert list(moved.json()) == HERO_KEYS
    assert client.get(f"/heroes/{hero.id}?fields=team_id").json()["team_id"] == second.id

    left = client.patch(f"/heroes/{hero.id}", json={"team_id": None})

    assert left.json() == hero_body(hero) | {"age": 99}
    stored = read_stored(session, hero.id)
    assert stored is not None
    assert (stored.team_id, stored.age, stored.version) == (None, 99, 4)


@pytest.mark.parametrize("team_id", [9000, 0, -1, 2**63 - 1, -(2**63)])
def test_a_team_that_does_not_exist_is_422_and_nothing_is_stored(
    client: TestClient, session: Session, team_id: int
) -> None:
    team = make_team(session)
    hero = make_hero(session, team_id=team.id, name="Steady", age=42)

    created = client.post("/heroes/", json={"name": "N", "secret_name": "s", "team_id": team_id})
    patched = client.patch(f"/heroes/{hero.id}", json={"age": 1, "team_id": team_id})

    for response in (created, patched):
        assert_clean_4xx(response, 422)
        assert response.json() == MISSING_TEAM
    assert [(h.id, h.age, h.team_id, h.version) for h in heroes_stored(session)] == [
        (hero.id, 42, team.id, 1)
    ]


@pytest.mark.parametrize(
    "raw",
    ['"1"', "true", "1.5", str(2**63), str(-(2**63) - 1), "1e400", "NaN", "[1]", "{}"],
    ids=["string", "true", "fraction", "2**63", "-2**63-1", "1e400", "NaN", "array", "object"],
)
def test_a_team_id_that_is_no_64_bit_integer_is_422_and_nothing_is_stored(
    client: TestClient, session: Session, raw: str
) -> None:
    team = make_team(session)
    hero = make_hero(session, team_id=team.id)
    headers = {"content-type": "application/json"}
    post = '{"name": "N", "secret_name": "s", "team_id": ' + raw + "}"
    patch = '{"team_id": ' + raw + "}"

    created = client.post("/heroes/", content=post, headers=headers)
    patched = client.patch(f"/heroes/{hero.id}", content=patch, headers=headers)

    for response in (created, patched):
        assert_clean_4xx(response, 422)
        assert response.json()["detail"][0]["loc"] == ["body", "team_id"]
    assert [(h.id, h.team_id, h.version) for h in heroes_stored(session)] == [
        (hero.id, team.id, 1)
    ]


def test_a_team_id_written_as_an_integral_float_is_that_integer(
    client: TestClient, session: Session
) -> None:
    team = make_team(session)

    response = client.post(
        "/heroes/",
        content=json.dumps({"name": "N", "secret_name": "s"})[:-1] + f', "team_id": {team.id}.0}}',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 200
    stored = read_stored(session, response.json()["id"])
    assert stored is not None
    assert stored.team_id == team.id


# --- ?fields=team_id and ?expand=team ------------------------------------------------------


def test_fields_and_expand_add_the_team_on_get_one(client: TestClient, session: Session) -> None:
    team = make_team(session)
    member = make_hero(session, team_id=team.id)
    loner = make_hero(session)

    def get(hero: Hero, query: str) -> Any:
        response = client.get(f"/heroes/{hero.id}?{query}")
        assert response.status_code == 200, response.text
        return response.json()

    assert client.get(f"/heroes/{member.id}").json() == hero_body(member)
    assert get(member, "fields=team_id") == hero_body(member) | {"team_id": team.id}
    assert get(loner, "fields=team_id") == hero_body(loner) | {"team_id": None}
    assert get(member, "expand=team") == hero_body(member) | {"team": team_body(team)}
    assert get(loner, "expand=team") == hero_body(loner) | {"team": None}
    both = get(member, "fields=team_id&expand=team")
    assert list(both) == [*HERO_KEYS, "team_id", "team"]
    assert both["team"] == team_body(team)
    assert list(both["team"]) == ["name", "headquarters", "id"]


def test_fields_and_expand_add_the_team_on_the_list(client: TestClient, session: Session) -> None:
    teams = [make_team(session) for _ in range(3)]
    heroes = [make_hero(session, team_id=teams[i % 3].id) for i in range(7)]
    loner = make_hero(session)

    listed = client.get("/heroes/", params={"fields": "team_id", "expand": "team"}).json()

    expected = [
        hero_body(hero) | {"team_id": hero.team_id, "team": team_body(teams[i % 3])}
        for i, hero in enumerate(heroes)
    ]
    assert listed == [*expected, hero_body(loner) | {"team_id": None, "team": None}]
    plain = client.get("/heroes/").json()
    assert all(list(hero) == HERO_KEYS for hero in plain)


def test_the_list_pages_with_expand_by_cursor(client: TestClient, session: Session) -> None:
    team = make_team(session)
    ids = [stored_id(make_hero(session, team_id=team.id)) for _ in range(5)]

    first = client.get("/heroes/", params={"expand": "team", "limit": 2})
    second = client.get(first.links["next"]["url"])

    assert [hero["id"] for hero in first.json() + second.json()] == ids[:4]
    assert all(hero["team"] == team_body(team) for hero in second.json())


@pytest.mark.parametrize(
    "query",
    ["expand=heroes", "expand=", "expand=team,team", "fields=team", "fields=team_id,bogus"],
)
def test_unknown_fields_or_expansions_are_422(
    client: TestClient, session: Session, query: str
) -> None:
    hero = make_hero(session)

    for url in (f"/heroes/{hero.id}?{query}", f"/heroes/?{query}"):
        assert_clean_4xx(client.get(url), 422)


# --- the list's team filters ---------------------------------------------------------------


def test_the_list_filters_by_team_and_by_having_one(client: TestClient, session: Session) -> None:
    first, second = make_team(session), make_team(session)
    a = make_hero(session, team_id=first.id, age=10)
    b = make_hero(session, team_id=second.id, age=20)
    c = make_hero(session, team_id=first.id, age=30)
    d = make_hero(session)

    def ids(**params: Any) -> list[int | None]:
        response = client.get("/heroes/", params=params, headers={"Prefer": "count=exact"})
        assert response.status_code == 200, response.text
        assert response.headers["x-total-count"] == str(len(response.json()))
        return [hero["id"] for hero in response.json()]

    assert ids(team_id=first.id) == [a.id, c.id]
    assert ids(team_id=second.id) == [b.id]
    assert ids(team_id=9000) == []
    assert ids(has_team="true") == [a.id, b.id, c.id]
    assert ids(has_team="false") == [d.id]
    assert ids(team_id=first.id, min_age=20) == [c.id]
    assert ids(team_id=first.id, has_team="true") == [a.id, c.id]
    assert ids(team_id=first.id, has_team="false") == []
    assert ids(team_id=first.id, sort="-age") == [c.id, a.id]


@pytest.mark.parametrize(
    "query",
    [
        "team_id=abc",
        "team_id=1.5",
        "team_id=",
        f"team_id={2**63}",
        f"team_id={-(2**63) - 1}",
        "has_team=maybe",
        "has_team=",
        "team=1",
    ],
)
def test_bad_team_filters_are_422(client: TestClient, query: str) -> None:
    assert_clean_4xx(client.get(f"/heroes/?{query}"), 422)


def test_secret_names_never_appear_with_teams(client: TestClient, session: Session) -> None:
    team = make_team(session)
    hero = make_hero(session, team_id=team.id, secret_name="SECRET-MARKER")

    responses = [
        client.get(f"/teams/{team.id}"),
        client.get(f"/heroes/{hero.id}?expand=team&fields=team_id"),
        client.get("/heroes/?expand=team&fields=team_id,created_at"),
        client.patch(f"/heroes/{hero.id}", json={"team_id": None}),
    ]

    assert all("SECRET-MARKER" not in response.text for response in responses)
