"""The tutorial's contract: any client written against it keeps working, on every backend."""

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.heroes.models import Hero
from app.heroes.resource import HEROES_LIST
from tests.factories import make_hero, read_stored

HERO_KEYS = {"id", "name", "age"}


def test_create_hero_as_the_fastapi_docs_test_does(client: TestClient) -> None:
    response = client.post(
        "/heroes/", json={"name": "Deadpond", "secret_name": "Dive Wilson", "id": 9000}
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == HERO_KEYS
    assert body["name"] == "Deadpond"
    assert body["age"] is None
    assert body["id"] != 9000


def test_create_hero_stores_secret_name_and_ignores_unknown_fields(
    client: TestClient, session: Session
) -> None:
    response = client.post(
        "/heroes/",
        json={"name": "Rusty-Man", "secret_name": "Tommy Sharp", "age": 48, "power": "rust"},
    )

    assert response.status_code == 200
    assert response.json() == {"id": response.json()["id"], "name": "Rusty-Man", "age": 48}
    stored = read_stored(session, response.json()["id"])
    assert stored is not None
    assert stored.secret_name == "Tommy Sharp"


def test_create_hero_without_name_is_422(client: TestClient) -> None:
    response = client.post("/heroes/", json={"secret_name": "Dive Wilson"})

    assert response.status_code == 422


def test_list_heroes_in_id_order_with_offset_and_limit(
    client: TestClient, session: Session
) -> None:
    ids = [make_hero(session).id for _ in range(5)]

    everyone = client.get("/heroes/")
    page = client.get("/heroes/", params={"offset": 1, "limit": 2})

    assert everyone.status_code == 200
    assert [hero["id"] for hero in everyone.json()] == ids
    assert all(set(hero) == HERO_KEYS for hero in everyone.json())
    assert [hero["id"] for hero in page.json()] == ids[1:3]


def test_offset_paging_shows_every_hero_exactly_once(client: TestClient, session: Session) -> None:
    ids = [make_hero(session).id for _ in range(7)]

    seen = []
    for offset in range(0, 9, 3):
        seen += [hero["id"] for hero in client.get(f"/heroes/?offset={offset}&limit=3").json()]

    assert seen == ids


def test_list_limit_defaults_to_100_and_101_is_422(client: TestClient, session: Session) -> None:
    for _ in range(101):
        session.add(Hero(name="Crowd", secret_name="Extra"))
    session.commit()

    assert len(client.get("/heroes/").json()) == 100
    assert len(client.get("/heroes/?limit=100").json()) == 100
    assert client.get("/heroes/?limit=101").status_code == 422


def test_read_hero(client: TestClient, session: Session) -> None:
    hero = make_hero(session, name="Spider-Boy", age=None, secret_name="Pedro Parqueador")

    response = client.get(f"/heroes/{hero.id}")

    assert response.status_code == 200
    assert response.json() == {"id": hero.id, "name": "Spider-Boy", "age": None}


def test_read_missing_hero_is_404_with_the_tutorials_body(client: TestClient) -> None:
    response = client.get("/heroes/9000")

    assert response.status_code == 404
    assert response.json() == {"detail": "Hero not found"}


def test_patch_changes_only_the_fields_sent(client: TestClient, session: Session) -> None:
    hero = make_hero(session, name="Deadpond", age=30, secret_name="Dive Wilson")

    response = client.patch(f"/heroes/{hero.id}", json={"name": "Deadpuddle"})

    assert response.status_code == 200
    assert response.json() == {"id": hero.id, "name": "Deadpuddle", "age": 30}
    stored = read_stored(session, hero.id)
    assert stored is not None
    assert (stored.name, stored.age, stored.secret_name) == ("Deadpuddle", 30, "Dive Wilson")


def test_patch_secret_name_is_stored_and_not_returned(
    client: TestClient, session: Session
) -> None:
    hero = make_hero(session, secret_name="Dive Wilson")

    response = client.patch(f"/heroes/{hero.id}", json={"secret_name": "Wade"})

    assert set(response.json()) == HERO_KEYS
    stored = read_stored(session, hero.id)
    assert stored is not None
    assert stored.secret_name == "Wade"


def test_patch_null_age_clears_it(client: TestClient, session: Session) -> None:
    hero = make_hero(session, age=40)

    response = client.patch(f"/heroes/{hero.id}", json={"age": None})

    assert response.status_code == 200
    assert response.json()["age"] is None


def test_patch_empty_body_changes_nothing(client: TestClient, session: Session) -> None:
    hero = make_hero(session, name="Tarantula", age=32, secret_name="Natalia")

    response = client.patch(f"/heroes/{hero.id}", json={})

    assert response.status_code == 200
    assert response.json() == {"id": hero.id, "name": "Tarantula", "age": 32}
    stored = read_stored(session, hero.id)
    assert stored is not None
    assert (stored.name, stored.age, stored.secret_name) == ("Tarantula", 32, "Natalia")


def test_patch_missing_hero_is_404(client: TestClient) -> None:
    for body in ({"name": "Nobody"}, {}):
        response = client.patch("/heroes/9000", json=body)

        assert response.status_code == 404
        assert response.json() == {"detail": "Hero not found"}


def test_delete_hero(client: TestClient, session: Session) -> None:
    hero = make_hero(session)

    response = client.delete(f"/heroes/{hero.id}")

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert read_stored(session, hero.id) is None
    assert client.get(f"/heroes/{hero.id}").status_code == 404


def test_delete_missing_hero_is_404(client: TestClient) -> None:
    response = client.delete("/heroes/9000")

    assert response.status_code == 404
    assert response.json() == {"detail": "Hero not found"}


def test_ids_of_deleted_heroes_are_never_reused(client: TestClient) -> None:
    first = client.post("/heroes/", json={"name": "A", "secret_name": "a"}).json()["id"]
    client.delete(f"/heroes/{first}")

    second = client.post("/heroes/", json={"name": "B", "secret_name": "b"}).json()["id"]

    assert second > first


def test_secret_name_never_appears_in_any_response(client: TestClient) -> None:
    created = client.post("/heroes/", json={"name": "X", "secret_name": "SECRET-MARKER"})
    hero_id = created.json()["id"]
    responses = [
        created,
        client.get("/heroes/"),
        client.get(f"/heroes/{hero_id}"),
        client.patch(f"/heroes/{hero_id}", json={"secret_name": "SECRET-MARKER-2"}),
        client.delete(f"/heroes/{hero_id}"),
    ]

    assert all("SECRET-MARKER" not in response.text for response in responses)


def test_openapi_describes_every_route_parameter_and_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    paths = spec["paths"]
    assert set(paths["/heroes/"]) == {"get", "post"}
    assert set(paths["/heroes/{hero_id}"]) == {"get", "patch", "delete"}
    list_params = {param["name"] for param in paths["/heroes/"]["get"]["parameters"]}
    assert list_params == {*HEROES_LIST.names, "prefer"}  # offset, limit, fields, filters, sort...
    schemas = spec["components"]["schemas"]
    assert set(schemas["HeroPublic"]["properties"]) == HERO_KEYS
    assert "secret_name" in schemas["HeroCreate"]["properties"]
    assert "404" in paths["/heroes/{hero_id}"]["get"]["responses"]
    assert client.get("/docs").status_code == 200


def test_error_bodies_are_compact_json_like_every_other_response(client: TestClient) -> None:
    response = client.get("/heroes/9000")

    assert response.text == '{"detail":"Hero not found"}'


def test_ids_beyond_32_bits_work_end_to_end(client: TestClient, session: Session) -> None:
    big_id = 2**31 + 7  # would overflow a 32-bit INTEGER column on PostgreSQL and MariaDB
    session.add(Hero(id=big_id, name="Big", secret_name="Number"))
    session.commit()

    assert client.get(f"/heroes/{big_id}").json() == {"id": big_id, "name": "Big", "age": None}
    assert client.patch(f"/heroes/{big_id}", json={"age": 1}).json()["age"] == 1
    assert [hero["id"] for hero in client.get("/heroes/").json()] == [big_id]
    assert client.delete(f"/heroes/{big_id}").json() == {"ok": True}
