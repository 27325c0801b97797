"""The teams chapter of the tutorial, as a client uses it, on every backend: every route's
status, body and headers, and a hero's body that keeps its tutorial shape throughout."""

from email.utils import parsedate_to_datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import Session

from app.heroes.models import Hero
from app.teams.models import HEROES_SHOWN, Team
from tests.factories import make_hero, make_team, read_stored, read_team, stored_id

TEAM_KEYS = {"id", "name", "headquarters"}
HERO_KEYS = {"id", "name", "age"}
TEAM_NOT_FOUND = {"detail": "Team not found"}
NAME_TAKEN = {"detail": "A team with this name already exists"}
TEAM_METHODS = "GET, HEAD, PATCH, DELETE, OPTIONS"
COLLECTION_METHODS = "GET, HEAD, POST, OPTIONS"


def test_the_tutorials_teams_flow(client: TestClient) -> None:
    preventers = client.post("/teams/", json={"name": "Preventers", "headquarters": "Sharp Tower"})
    z_force = client.post(
        "/teams/", json={"name": "Z-Force", "headquarters": "Sister Margaret's Bar"}
    )
    assert (preventers.status_code, z_force.status_code) == (200, 200)
    preventers_id, z_force_id = preventers.json()["id"], z_force.json()["id"]

    deadpond = client.post(
        "/heroes/", json={"name": "Deadpond", "secret_name": "Dive Wilson", "team_id": z_force_id}
    )
    rusty = client.post(
        "/heroes/",
        json={
            "name": "Rusty-Man",
            "secret_name": "Tommy Sharp",
            "age": 48,
            "team_id": preventers_id,
        },
    )
    spider = client.post("/heroes/", json={"name": "Spider-Boy", "secret_name": "Pedro"})
    for hero in (deadpond, rusty, spider):
        assert hero.status_code == 200
        assert set(hero.json()) == HERO_KEYS  # the tutorial's shape, team or not
    spider_id = spider.json()["id"]

    assert client.get(f"/teams/{preventers_id}").json() == {
        "name": "Preventers",
        "headquarters": "Sharp Tower",
        "id": preventers_id,
        "heroes": [rusty.json()],
    }

    moved = client.patch(f"/heroes/{spider_id}", json={"team_id": preventers_id})
    assert moved.json() == spider.json()
    assert client.get(f"/teams/{preventers_id}").json()["heroes"] == [rusty.json(), spider.json()]
    expanded = client.get(f"/heroes/{spider_id}?expand=team").json()
    assert expanded == spider.json() | {"team": preventers.json()}

    assert client.delete(f"/teams/{preventers_id}").json() == {"ok": True}
    assert client.get(f"/teams/{preventers_id}").status_code == 404
    released = client.get(f"/heroes/{spider_id}?fields=team_id&expand=team").json()
    assert released == spider.json() | {"team_id": None, "team": None}
    assert client.get(f"/teams/{z_force_id}").json()["heroes"] == [deadpond.json()]
    assert [team["id"] for team in client.get("/teams/").json()] == [z_force_id]


# --- POST --------------------------------------------------------------------------------


def test_post_answers_200_the_team_its_validators_and_location(client: TestClient) -> None:
    response = client.post(
        "/teams/", json={"name": "Preventers", "headquarters": "Sharp Tower", "id": 9000}
    )

    assert response.status_code == 200
    body = response.json()
    assert body == {"name": "Preventers", "headquarters": "Sharp Tower", "id": body["id"]}
    assert list(body) == ["name", "headquarters", "id"]
    assert body["id"] != 9000
    assert response.headers["etag"] == f'"{body["id"]}.1"'
    assert parsedate_to_datetime(response.headers["last-modified"]).tzinfo is not None
    assert response.headers["location"] == f"http://testserver/teams/{body['id']}"
    assert client.get(response.headers["location"]).json() == body | {"heroes": []}


def test_post_ignores_unknown_fields(client: TestClient) -> None:
    response = client.post(
        "/teams/", json={"name": "A", "headquarters": "B", "heroes": [1], "version": 7}
    )

    assert response.status_code == 200
    assert set(response.json()) == TEAM_KEYS
    assert response.headers["etag"] == f'"{response.json()["id"]}.1"'


@pytest.mark.parametrize("missing", ["name", "headquarters"])
def test_post_without_a_required_field_is_422(client: TestClient, missing: str) -> None:
    body = {"name": "Preventers", "headquarters": "Sharp Tower"}
    del body[missing]

    response = client.post("/teams/", json=body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", missing]
    assert client.get("/teams/").json() == []


def test_post_of_a_taken_name_is_409_and_stores_nothing(
    client: TestClient, session: Session
) -> None:
    team = make_team(session, name="Preventers", headquarters="Sharp Tower")

    response = client.post("/teams/", json={"name": "Preventers", "headquarters": "Elsewhere"})

    assert response.status_code == 409
    assert response.json() == NAME_TAKEN
    assert client.get("/teams/").json() == [team.model_dump(include=TEAM_KEYS)]


def test_names_differing_in_case_or_spaces_are_different_names(client: TestClient) -> None:
    for name in ("Preventers", "preventers", "Preventers ", " Preventers"):
        assert client.post("/teams/", json={"name": name, "headquarters": "x"}).status_code == 200

    assert len(client.get("/teams/").json()) == 4


def test_ids_of_deleted_teams_are_never_reused(client: TestClient) -> None:
    first = client.post("/teams/", json={"name": "A", "headquarters": "a"}).json()["id"]
    client.delete(f"/teams/{first}")

    second = client.post("/teams/", json={"name": "A", "headquarters": "a"}).json()["id"]

    assert second > first


# --- GET ---------------------------------------------------------------------------------


def test_list_pages_in_id_order(client: TestClient, session: Session) -> None:
    ids = [stored_id(make_team(session)) for _ in range(5)]

    everyone = client.get("/teams/")
    page = client.get("/teams/", params={"offset": 1, "limit": 2})

    assert everyone.status_code == 200
    assert [team["id"] for team in everyone.json()] == ids
    assert all(list(team) == ["name", "headquarters", "id"] for team in everyone.json())
    assert [team["id"] for team in page.json()] == ids[1:3]
    assert client.get("/teams/", headers={"Prefer": "count=exact"}).headers["x-total-count"] == "5"


def test_read_team_lists_its_heroes_in_id_order_and_no_others(
    client: TestClient, session: Session
) -> None:
    team = make_team(session, name="Preventers", headquarters="Sharp Tower")
    other = make_team(session)
    heroes = [make_hero(session, team_id=team.id, age=None if i == 1 else i) for i in range(3)]
    make_hero(session, team_id=other.id)
    make_hero(session)

    response = client.get(f"/teams/{team.id}")

    assert response.status_code == 200
    assert response.json() == {
        "name": "Preventers",
        "headquarters": "Sharp Tower",
        "id": team.id,
        "heroes": [{"name": h.name, "age": h.age, "id": h.id} for h in heroes],
    }
    assert list(response.json()) == ["name", "headquarters", "id", "heroes"]
    assert "Secret identity" not in response.text
    assert response.headers["etag"] == f'"{team.id}.1"'


def test_read_team_shows_its_first_100_heroes_and_the_list_pages_through_all(
    client: TestClient, session: Session
) -> None:
    team_id = stored_id(make_team(session))
    rows = [{"name": f"H{i}", "secret_name": "s", "team_id": team_id} for i in range(105)]
    session.execute(insert(Hero), rows)
    session.commit()

    shown = client.get(f"/teams/{team_id}").json()["heroes"]
    every = client.get("/heroes/", params={"team_id": team_id, "limit": 100}).json()
    rest = client.get("/heroes/", params={"team_id": team_id, "offset": 100}).json()

    assert len(shown) == HEROES_SHOWN == 100
    assert shown == every
    assert [hero["id"] for hero in shown] == sorted(hero["id"] for hero in shown)
    assert len(rest) == 5
    assert rest[0]["id"] > shown[-1]["id"]


def test_read_missing_team_is_404(client: TestClient) -> None:
    response = client.get("/teams/9000")

    assert response.status_code == 404
    assert response.json() == TEAM_NOT_FOUND
    assert response.text == '{"detail":"Team not found"}'


# --- PATCH -------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent_and_ignores_an_id(
    client: TestClient, session: Session
) -> None:
    team = make_team(session, name="Preventers", headquarters="Sharp Tower")
    other = make_team(session, name="Z-Force", headquarters="Bar")

    response = client.patch(f"/teams/{team.id}", json={"headquarters": "Moon", "id": other.id})

    assert response.status_code == 200
    assert response.json() == {"name": "Preventers", "headquarters": "Moon", "id": team.id}
    assert response.headers["etag"] == f'"{team.id}.2"'
    assert "location" not in response.headers
    stored, untouched = read_team(session, team.id), read_team(session, other.id)
    assert stored is not None
    assert untouched is not None
    assert (stored.name, stored.headquarters, stored.version) == ("Preventers", "Moon", 2)
    assert (untouched.name, untouched.headquarters, untouched.version) == ("Z-Force", "Bar", 1)


def test_patch_name_alone(client: TestClient, session: Session) -> None:
    team = make_team(session, name="Preventers", headquarters="Sharp Tower")

    response = client.patch(f"/teams/{team.id}", json={"name": "Avengers"})

    assert response.json() == {"name": "Avengers", "headquarters": "Sharp Tower", "id": team.id}


def test_an_empty_patch_changes_nothing(client: TestClient, session: Session) -> None:
    team = make_team(session)

    response = client.patch(f"/teams/{team.id}", json={})

    assert response.status_code == 200
    assert response.json() == team.model_dump(include=TEAM_KEYS)
    assert response.headers["etag"] == f'"{team.id}.1"'
    stored = read_team(session, team.id)
    assert stored is not None
    assert (stored.version, stored.updated_at) == (1, team.updated_at)


def test_patch_to_a_taken_name_is_409_and_changes_nothing(
    client: TestClient, session: Session
) -> None:
    taken = make_team(session, name="Preventers")
    team = make_team(session, name="Z-Force", headquarters="Bar")

    response = client.patch(f"/teams/{team.id}", json={"name": "Preventers", "headquarters": "X"})

    assert response.status_code == 409
    assert response.json() == NAME_TAKEN
    stored = read_team(session, team.id)
    assert stored is not None
    assert (stored.name, stored.headquarters, stored.version) == ("Z-Force", "Bar", 1)
    assert read_team(session, taken.id) is not None


def test_patch_to_its_own_name_is_fine(client: TestClient, session: Session) -> None:
    team = make_team(session, name="Preventers")

    response = client.patch(f"/teams/{team.id}", json={"name": "Preventers"})

    assert response.status_code == 200
    assert response.headers["etag"] == f'"{team.id}.2"'


def test_patch_missing_team_is_404(client: TestClient) -> None:
    for body in ({"name": "Nobody"}, {}):
        response = client.patch("/teams/9000", json=body)

        assert (response.status_code, response.json()) == (404, TEAM_NOT_FOUND)


# --- DELETE ------------------------------------------------------------------------------


def test_delete_releases_the_teams_heroes_and_moves_their_versions(
    client: TestClient, session: Session
) -> None:
    team = make_team(session)
    other = make_team(session)
    members = [make_hero(session, team_id=team.id) for _ in range(3)]
    outsider = make_hero(session, team_id=other.id)
    loner = make_hero(session)
    before = {hero.id: client.get(f"/heroes/{hero.id}").headers["etag"] for hero in members}

    response = client.delete(f"/teams/{team.id}")

    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert read_team(session, team.id) is None
    for hero in members:
        stored = read_stored(session, hero.id)
        assert stored is not None
        assert (stored.team_id, stored.version) == (None, 2)
        assert stored.updated_at > hero.updated_at
        assert (stored.name, stored.secret_name) == (hero.name, hero.secret_name)
        assert client.get(f"/heroes/{hero.id}").headers["etag"] != before[hero.id]
    for hero, team_id in ((outsider, other.id), (loner, None)):
        stored = read_stored(session, hero.id)
        assert stored is not None
        assert (stored.team_id, stored.version) == (team_id, 1)
    teammate = read_team(session, other.id)
    assert teammate is not None
    assert teammate.version == 1


def test_delete_missing_team_is_404(client: TestClient) -> None:
    response = client.delete("/teams/9000")

    assert (response.status_code, response.json()) == (404, TEAM_NOT_FOUND)


def test_ids_beyond_32_bits_work_for_teams_and_their_heroes(
    client: TestClient, session: Session
) -> None:
    big = 2**40 + 3
    session.add(Team(id=big, name="Large", headquarters="Far"))
    session.commit()

    hero = client.post("/heroes/", json={"name": "H", "secret_name": "s", "team_id": big})

    assert hero.status_code == 200
    assert client.get(f"/teams/{big}").json()["heroes"] == [hero.json()]
    assert client.get(f"/heroes/?team_id={big}").json() == [hero.json()]
    assert client.patch(f"/teams/{big}", json={"name": "Big"}).json()["name"] == "Big"
    assert client.delete(f"/teams/{big}").json() == {"ok": True}


# --- HEAD, OPTIONS, 405 ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/teams/{id}", "/teams/", "/teams"])
def test_head_answers_gets_headers_without_the_body(
    client: TestClient, session: Session, path: str
) -> None:
    team = make_team(session)
    make_hero(session, team_id=team.id)
    url = path.format(id=team.id)
    got = client.get(url)

    head = client.head(url)

    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(got.content))
    for name in ("content-type", "etag", "last-modified"):
        assert head.headers.get(name) == got.headers.get(name), name


def test_head_of_a_missing_team_is_404_without_a_body(client: TestClient) -> None:
    head = client.head("/teams/999999")

    assert (head.status_code, head.content) == (404, b"")


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/teams/1", TEAM_METHODS), ("/teams/", COLLECTION_METHODS), ("/teams", COLLECTION_METHODS)],
)
def test_options_lists_the_methods_the_path_has(
    client: TestClient, path: str, allowed: str
) -> None:
    response = client.options(path)

    assert (response.status_code, response.content) == (204, b"")
    assert response.headers["allow"] == allowed


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/teams/1", TEAM_METHODS),
        ("POST", "/teams/1", TEAM_METHODS),
        ("DELETE", "/teams/", COLLECTION_METHODS),
        ("PATCH", "/teams", COLLECTION_METHODS),
    ],
)
def test_405_lists_every_method_of_the_path(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path, json={"name": "x"})

    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {"detail": "Method Not Allowed"}


def test_the_collection_without_its_slash_serves_post_and_get_in_place(
    client: TestClient,
) -> None:
    created = client.post(
        "/teams", json={"name": "Preventers", "headquarters": "Tower"}, follow_redirects=False
    )
    listed = client.get("/teams?limit=5", follow_redirects=False)

    assert created.status_code == 200
    assert listed.json() == [created.json()]


def test_openapi_describes_the_team_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    paths = spec["paths"]
    assert set(paths["/teams/"]) == {"get", "post"}
    assert set(paths["/teams/{team_id}"]) == {"get", "patch", "delete"}
    schemas = spec["components"]["schemas"]
    assert set(schemas["TeamPublic"]["properties"]) == TEAM_KEYS
    assert set(schemas["TeamPublicWithHeroes"]["properties"]) == TEAM_KEYS | {"heroes"}
    assert "409" in paths["/teams/"]["post"]["responses"]
    assert "409" in paths["/teams/{team_id}"]["patch"]["responses"]
    assert "404" in paths["/teams/{team_id}"]["get"]["responses"]
    assert "team_id" in schemas["HeroCreate"]["properties"]
    assert set(schemas["HeroPublic"]["properties"]) == HERO_KEYS
