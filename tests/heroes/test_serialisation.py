"""Hero bodies are the bytes FastAPI's own serialisation would send, whichever path
renders them: pydantic for one hero, orjson for a page (app/http/responses.py)."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlmodel import Session

from app.heroes.models import HeroPublic, StoredHero
from app.heroes.resource import hero_body
from tests.factories import make_hero

ODD_BUT_LEGAL_NAMES = ("Zoë", "雷神", "emoji 🦸", 'quote " and \\ backslash', "tab\tnewline\n")


def test_a_body_has_heroes_public_fields_in_their_order() -> None:
    hero = StoredHero(1, "Deadpond", None, None, datetime.now(UTC), datetime.now(UTC), version=1)

    assert list(hero_body(hero)) == list(HeroPublic.model_fields)


def test_a_page_is_byte_for_byte_what_fastapi_renders_for_its_heroes(
    client: TestClient, session: Session
) -> None:
    for name in ODD_BUT_LEGAL_NAMES:
        make_hero(session, name=name, age=None if "emoji" in name else 7)

    response = client.get("/heroes/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    heroes = [HeroPublic.model_validate(hero) for hero in response.json()]
    assert [hero.name for hero in heroes] == list(ODD_BUT_LEGAL_NAMES)
    assert response.content == TypeAdapter(list[HeroPublic]).dump_json(heroes)


def test_one_hero_is_byte_for_byte_what_a_page_shows_of_it(
    client: TestClient, session: Session
) -> None:
    hero = make_hero(session, name="雷神", age=1500)

    one = client.get(f"/heroes/{hero.id}").content
    page = client.get("/heroes/").content

    assert page == b"[" + one + b"]"
