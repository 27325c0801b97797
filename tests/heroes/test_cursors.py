"""Cursors: signed, bound to their query, refused with a 422 when changed or foreign, and
walks by cursor that see each hero once while others are added and deleted."""

import base64
import random
import re

import httpx2 as httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert

from app.config import SettingsError, load_settings
from app.kit.listing.cursors import Cursor, CursorCodec, CursorError, fingerprint
from app.main import create_app
from tests.heroes.listing_model import Stored, hero_table, store

LINK = re.compile(r'<([^>]*)>; rel="(\w+)"')
FOR_NAME = fingerprint(["name"])
FOR_AGE = fingerprint(["age"])


def next_cursor(response: httpx.Response) -> str:
    links: dict[str, str] = {rel: url for url, rel in LINK.findall(response.headers["link"])}
    return links["next"].split("cursor=")[1]


def unpadded(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def flip(token: str, position: int) -> str:
    """The token with one bit of its `position`th byte changed, counting the payload's
    bytes, then the MAC's (a token is `base64url(payload).base64url(mac)`)."""
    parts = [bytearray(unpadded(part)) for part in token.split(".")]
    part = 0 if position < len(parts[0]) else 1
    parts[part][position - part * len(parts[0])] ^= 1
    return ".".join(base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode() for raw in parts)


# --- the codec --------------------------------------------------------------------------


def test_a_cursor_reads_back_as_it_was_made() -> None:
    codec = CursorCodec("a secret of sixteen+")
    cursor = Cursor(("Zoë", None, 7), before=True, inclusive=True)

    assert codec.decode(codec.encode(cursor, FOR_NAME), FOR_NAME) == cursor


def test_every_changed_byte_is_refused() -> None:
    codec = CursorCodec(None)
    token = codec.encode(Cursor(("Deadpond", 1)), FOR_NAME)
    length = sum(len(unpadded(part)) for part in token.split("."))

    for position in range(length):
        with pytest.raises(CursorError, match="damaged or changed"):
            codec.decode(flip(token, position), FOR_NAME)


@pytest.mark.parametrize("keep", [0, 1, 10, -1, -2])
def test_a_truncated_cursor_is_refused(keep: int) -> None:
    codec = CursorCodec(None)
    token = codec.encode(Cursor((1,)), FOR_NAME)

    with pytest.raises(CursorError):
        codec.decode(token[:keep], FOR_NAME)


def test_a_cursor_for_another_query_is_refused_as_such() -> None:
    codec = CursorCodec(None)

    with pytest.raises(CursorError, match="another sort or other filters"):
        codec.decode(codec.encode(Cursor((1,)), FOR_NAME), FOR_AGE)


def test_a_cursor_signed_with_another_secret_is_refused() -> None:
    token = CursorCodec("the first secret, long").encode(Cursor((1,)), FOR_NAME)

    with pytest.raises(CursorError, match="damaged or changed"):
        CursorCodec("the other secret, long").decode(token, FOR_NAME)


def test_a_short_cursor_secret_stops_the_service_at_startup() -> None:
    with pytest.raises(SettingsError, match="CURSOR_SECRET"):
        load_settings(cursor_secret="short")


# --- the API ----------------------------------------------------------------------------


@pytest.fixture
def crew(engine: Engine, client: TestClient) -> list[Stored]:
    return store(engine, [(f"Hero {n:02}", n % 4 or None) for n in range(12)])


def test_a_changed_cursor_is_422(client: TestClient, crew: list[Stored]) -> None:
    token = next_cursor(client.get("/heroes/", params={"limit": 3}))

    for changed in (flip(token, 5), token[:-3], token + "A", token[4:]):
        response = client.get("/heroes/", params={"limit": 3, "cursor": changed})
        assert response.status_code == 422, changed
        assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize(
    ("made_with", "used_with"),
    [
        pytest.param({"sort": "name"}, {"sort": "-name"}, id="other-direction"),
        pytest.param({"sort": "name"}, {"sort": "age"}, id="other-sort"),
        pytest.param({"sort": "name"}, {}, id="default-sort"),
        pytest.param({"min_age": "1"}, {"min_age": "2"}, id="other-filter-value"),
        pytest.param({"min_age": "1"}, {}, id="filter-dropped"),
        pytest.param({}, {"name_contains": "Hero"}, id="filter-added"),
    ],
)
def test_a_cursor_made_for_another_query_is_422(
    client: TestClient, crew: list[Stored], made_with: dict[str, str], used_with: dict[str, str]
) -> None:
    token = next_cursor(client.get("/heroes/", params=made_with | {"limit": "2"}))

    response = client.get("/heroes/", params=used_with | {"cursor": token})

    assert response.status_code == 422
    assert "another sort or other filters" in response.json()["detail"][0]["msg"]


def test_a_cursor_with_an_offset_is_422(client: TestClient, crew: list[Stored]) -> None:
    token = next_cursor(client.get("/heroes/", params={"limit": 2}))

    response = client.get("/heroes/", params={"cursor": token, "offset": "2"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "send either cursor or offset, not both"


@pytest.mark.parametrize(
    ("sort", "filters", "values"),
    [
        pytest.param("id", {}, ["1"], id="text-for-an-id"),
        pytest.param("id", {}, [True], id="bool-for-an-id"),
        pytest.param("id", {}, [2**63], id="id-past-64-bits"),
        pytest.param("id", {}, [1, 2], id="too-many-values"),
        pytest.param("name", {}, ["\x00", 1], id="nul-in-a-name"),
        pytest.param("name", {}, ["x" * 256, 1], id="name-too-long"),
        pytest.param("age", {}, [-1, 1], id="negative-age"),
        pytest.param("age", {"has_age": "true"}, [None, 1], id="no-age-where-ages-are-known"),
        pytest.param("age", {}, [1.5, 1], id="float-age"),
    ],
)
def test_a_well_signed_cursor_with_values_of_the_wrong_kind_is_422_not_500(
    client: TestClient,
    crew: list[Stored],
    sort: str,
    filters: dict[str, str],
    values: list[object],
) -> None:
    """Anyone who reads the code can sign with the default key: values are checked."""
    token = next_cursor(client.get("/heroes/", params=filters | {"sort": sort, "limit": "1"}))
    payload = orjson.loads(unpadded(token.split(".")[0]))
    made_for = bytes.fromhex(payload[1])
    forged = CursorCodec(None).encode(Cursor(tuple(values)), made_for)

    response = client.get("/heroes/", params=filters | {"sort": sort, "cursor": forged})

    assert response.status_code == 422, response.text


def test_a_service_with_its_own_secret_refuses_cursors_signed_with_the_default() -> None:
    app = create_app(load_settings(database_url="sqlite://", cursor_secret="s" * 32))
    forged = CursorCodec(None).encode(Cursor((1,)), fingerprint(["anything"]))

    response = TestClient(app).get("/heroes/", params={"cursor": forged})  # no database needed

    assert response.status_code == 422
    assert "damaged or changed" in response.json()["detail"][0]["msg"]


# --- walks while others write -----------------------------------------------------------


@pytest.mark.parametrize("sort", ["id", "-id", "name", "-age,name", "age,-name", "age"])
def test_a_cursor_walk_sees_every_lasting_hero_once_while_others_come_and_go(
    client: TestClient, engine: Engine, sort: str
) -> None:
    rng = random.Random(sort)
    heroes = store(engine, [(f"Hero {rng.randrange(40):02}", _age(rng)) for _ in range(40)])
    deleted: set[int] = set()
    seen: list[int] = []

    response = client.get("/heroes/", params={"sort": sort, "limit": 4})
    while True:
        assert response.status_code == 200, response.text
        page = [hero["id"] for hero in response.json()]
        seen += page
        if not page or "next" not in response.headers.get("link", ""):
            break
        # Between pages: delete the page's last hero (the cursor's own boundary row) and
        # one hero not seen yet, and add two heroes anywhere in the order.
        unseen = [hero.id for hero in heroes if hero.id not in seen and hero.id not in deleted]
        doomed = {page[-1], *rng.sample(unseen, min(1, len(unseen)))}
        _delete(engine, doomed)
        deleted |= doomed
        _add(engine, [(f"Hero {rng.randrange(40):02}", _age(rng)) for _ in range(2)])
        response = client.get(
            "/heroes/", params={"sort": sort, "limit": 4, "cursor": next_cursor(response)}
        )

    lasting = {hero.id for hero in heroes} - deleted
    assert len(seen) == len(set(seen)), "a hero was seen twice"
    assert lasting <= set(seen), "a hero present for the whole walk was skipped"


def _age(rng: random.Random) -> int | None:
    return rng.choice([None, 20, 30, 40])


def _delete(engine: Engine, ids: set[int]) -> None:
    with engine.begin() as connection:
        connection.execute(delete(hero_table).where(hero_table.c.id.in_(ids)))


def _add(engine: Engine, heroes: list[tuple[str, int | None]]) -> None:
    rows = [{"name": name, "age": age, "secret_name": "s"} for name, age in heroes]
    with engine.begin() as connection:
        connection.execute(insert(hero_table), rows)
