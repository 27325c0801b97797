"""A user's tests override `get_session` exactly as SQLModel's "Test Applications" does.

The imports, the engine and the override below are the tutorial's; the tests are its tests,
with this service's contract: a hero's body is exactly {"id", "name", "age"}.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, create_engine
from sqlmodel.pool import StaticPool

from app.heroes.models import Hero
from app.main import app, get_session
from app.teams.models import Team

HERO_KEYS = {"id", "name", "age"}


@pytest.fixture(name="session")
def session_fixture() -> Iterator[Session]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def client_with_overridden_session(session: Session) -> Iterator[TestClient]:
    """The tutorial's client fixture; plain, so a test can also drive it to its end."""

    def get_session_override() -> Session:
        return session

    app.dependency_overrides[get_session] = get_session_override
    client = TestClient(app)  # no `with`: the tutorial runs no lifespan
    try:
        yield client
    finally:
        app.dependency_overrides.clear()


client_fixture = pytest.fixture(name="client")(client_with_overridden_session)


def test_create_hero_uses_the_overriding_session(client: TestClient, session: Session) -> None:
    response = client.post("/heroes/", json={"name": "Deadpond", "secret_name": "Dive Wilson"})

    assert response.status_code == 200
    data = response.json()
    assert set(data) == HERO_KEYS
    assert data["name"] == "Deadpond"
    assert data["age"] is None
    assert data["id"] is not None
    stored = session.get(Hero, data["id"])
    assert stored is not None
    assert stored.secret_name == "Dive Wilson"


def test_create_hero_incomplete_is_422(client: TestClient) -> None:
    # No secret_name.
    response = client.post("/heroes/", json={"name": "Deadpond"})

    assert response.status_code == 422


def test_create_hero_invalid_is_422(client: TestClient) -> None:
    # secret_name has the wrong type.
    response = client.post(
        "/heroes/",
        json={"name": "Deadpond", "secret_name": {"message": "Do you wanna know my secret?"}},
    )

    assert response.status_code == 422


def test_read_heroes_sees_heroes_added_through_the_session(
    session: Session, client: TestClient
) -> None:
    hero_1 = Hero(name="Deadpond", secret_name="Dive Wilson")
    hero_2 = Hero(name="Rusty-Man", secret_name="Tommy Sharp", age=48)
    session.add(hero_1)
    session.add(hero_2)
    session.commit()

    response = client.get("/heroes/")

    assert response.status_code == 200
    assert response.json() == [
        {"id": hero_1.id, "name": "Deadpond", "age": None},
        {"id": hero_2.id, "name": "Rusty-Man", "age": 48},
    ]


def test_read_hero(session: Session, client: TestClient) -> None:
    hero_1 = Hero(name="Deadpond", secret_name="Dive Wilson")
    session.add(hero_1)
    session.commit()

    response = client.get(f"/heroes/{hero_1.id}")

    assert response.status_code == 200
    assert response.json() == {"id": hero_1.id, "name": "Deadpond", "age": None}


def test_update_hero(session: Session, client: TestClient) -> None:
    hero_1 = Hero(name="Deadpond", secret_name="Dive Wilson")
    session.add(hero_1)
    session.commit()

    response = client.patch(f"/heroes/{hero_1.id}", json={"name": "Deadpuddle"})

    assert response.status_code == 200
    assert response.json() == {"id": hero_1.id, "name": "Deadpuddle", "age": None}
    session.refresh(hero_1)
    assert (hero_1.name, hero_1.secret_name) == ("Deadpuddle", "Dive Wilson")


def test_delete_hero(session: Session, client: TestClient) -> None:
    hero_1 = Hero(name="Deadpond", secret_name="Dive Wilson")
    session.add(hero_1)
    session.commit()

    response = client.delete(f"/heroes/{hero_1.id}")

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    hero_in_db = session.get(Hero, hero_1.id)
    assert hero_in_db is None


def test_override_is_gone_after_the_test(session: Session) -> None:
    """The client fixture's own override, set and then torn down as pytest would: after it
    the next test's app talks to its own database again."""
    with contextmanager(client_with_overridden_session)(session) as client:
        created = client.post("/heroes/", json={"name": "Deadpond", "secret_name": "Dive"})
        assert session.get(Hero, created.json()["id"]) is not None  # the override served it
        assert get_session in app.dependency_overrides

    assert get_session not in app.dependency_overrides


def test_the_teams_flow_through_the_overriding_session(
    session: Session, client: TestClient
) -> None:
    """Teams' transactions (a hero joining touches its team; a team's deletion releases
    its heroes) run on the overriding session too, and the session sees what they did."""
    team = client.post("/teams/", json={"name": "Preventers", "headquarters": "Sharp Tower"})
    team_id = team.json()["id"]
    hero = client.post(
        "/heroes/", json={"name": "Rusty-Man", "secret_name": "Tommy", "team_id": team_id}
    )

    assert set(hero.json()) == HERO_KEYS
    assert client.get(f"/teams/{team_id}").json()["heroes"] == [hero.json()]
    assert client.get(f"/teams/{team_id}").headers["etag"] == f'"{team_id}.2"'
    assert client.delete(f"/teams/{team_id}").json() == {"ok": True}
    stored = session.get(Hero, hero.json()["id"])
    assert stored is not None
    session.refresh(stored)
    assert (stored.team_id, stored.version) == (None, 2)
    assert session.get(Team, team_id) is None
