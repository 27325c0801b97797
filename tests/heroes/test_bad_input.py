"""Bad input never reaches the database: a clean 4xx JSON object, and nothing stored changes.

Legal but unusual input is the other half: it is stored and returned byte for byte.
"""

import json
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Settings
from app.heroes.models import AGE_MAX, NAME_MAX_LENGTH, SECRET_NAME_MAX_LENGTH, Hero
from app.http.path_ids import CanonicalInt
from tests.factories import make_hero, read_stored

JSON_HEADERS = {"content-type": "application/json"}
SECRET = "SECRET-IDENTITY-MARKER"
LEAKS = ("Traceback", "SELECT", "INSERT", "UPDATE ", "sqlalchemy", "psycopg", "pymysql", SECRET)
VALID_POST_FIELDS = {"name": '"Valid name"', "secret_name": '"Valid secret"'}
NON_BMP = "\U0001f600"  # 😀: four bytes in UTF-8, two UTF-16 code units


# --- helpers -------------------------------------------------------------------------------


def _refuse_constant(token: str) -> object:
    raise AssertionError(f"the response body holds {token}, which is not JSON")


def assert_clean_4xx(response: httpx.Response, status: int | None = None) -> None:
    """A 4xx (the given one, if any) whose body is a strict JSON object that leaks nothing."""
    if status is None:
        assert 400 <= response.status_code < 500, response.text
    else:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = json.loads(response.text, parse_constant=_refuse_constant)
    assert isinstance(body, dict)
    assert "detail" in body
    for leak in LEAKS:
        assert leak.lower() not in response.text.lower(), f"{leak!r} in {response.text[:300]}"


def stored_hero(session: Session) -> Hero:
    return make_hero(session, name="Steady", age=42, secret_name=SECRET)


def assert_nothing_changed(session: Session, hero: Hero) -> None:
    """The hero reads back as stored, and it is still the only row."""
    stored = read_stored(session, hero.id)
    assert stored is not None
    assert (stored.id, stored.name, stored.age, stored.secret_name) == (
        hero.id,
        hero.name,
        hero.age,
        hero.secret_name,
    )
    assert len(session.exec(select(Hero)).all()) == 1


def json_object(fields: dict[str, str]) -> bytes:
    """A JSON object from raw JSON value texts, so that NaN and escapes go out as written."""
    return ("{" + ", ".join(f'"{key}": {value}' for key, value in fields.items()) + "}").encode()


def send(client: TestClient, method: str, url: str, body: bytes) -> httpx.Response:
    return client.request(method, url, content=body, headers=JSON_HEADERS)


def post_and_patch(client: TestClient, hero: Hero, body: bytes) -> list[httpx.Response]:
    return [
        send(client, "POST", "/heroes/", body),
        send(client, "PATCH", f"/heroes/{hero.id}", body),
    ]


# --- fields whose values the columns cannot or must not hold -------------------------------

BAD_FIELDS = [
    pytest.param("age", str(2**31), id="age-2**31"),
    pytest.param("age", str(2**63), id="age-2**63"),
    pytest.param("age", str(-(10**20)), id="age--10**20"),
    pytest.param("age", "-1", id="age--1"),
    pytest.param("age", "NaN", id="age-NaN"),
    pytest.param("age", "Infinity", id="age-Infinity"),
    pytest.param("age", "-Infinity", id="age--Infinity"),
    pytest.param("age", "1e400", id="age-1e400"),
    pytest.param("age", "true", id="age-true"),  # lax validation would store 1
    pytest.param("age", '"28"', id="age-string"),
    pytest.param("age", "28.5", id="age-fraction"),
    pytest.param("name", "NaN", id="name-NaN"),
    pytest.param("name", "1e400", id="name-1e400"),
    pytest.param("name", r'"nul\u0000inside"', id="name-NUL"),
    pytest.param("secret_name", r'"nul\u0000inside"', id="secret_name-NUL"),
    pytest.param("name", r'"lone \ud800 high"', id="name-lone-high-surrogate"),
    pytest.param("name", r'"lone \udc00 low"', id="name-lone-low-surrogate"),
    pytest.param("secret_name", r'"\ud800"', id="secret_name-lone-surrogate"),
    pytest.param("name", json.dumps("x" * (NAME_MAX_LENGTH + 1)), id="name-max+1"),
    pytest.param("name", json.dumps(NON_BMP * (NAME_MAX_LENGTH + 1)), id="name-max+1-non-BMP"),
    pytest.param(
        "secret_name", json.dumps("x" * (SECRET_NAME_MAX_LENGTH + 1)), id="secret_name-max+1"
    ),
    pytest.param("name", '""', id="name-empty"),
    pytest.param("secret_name", '""', id="secret_name-empty"),
    pytest.param("name", "null", id="name-null"),
    pytest.param("secret_name", "null", id="secret_name-null"),
]


@pytest.mark.parametrize(("field", "raw_value"), BAD_FIELDS)
def test_bad_field_is_422_on_post_and_patch_and_changes_nothing(
    client: TestClient, session: Session, field: str, raw_value: str
) -> None:
    hero = stored_hero(session)

    created = send(client, "POST", "/heroes/", json_object(VALID_POST_FIELDS | {field: raw_value}))
    patched = send(client, "PATCH", f"/heroes/{hero.id}", json_object({field: raw_value}))

    assert_clean_4xx(created, 422)
    assert_clean_4xx(patched, 422)
    assert_nothing_changed(session, hero)


# --- bodies that are not a hero ------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[]", id="array"),
        pytest.param(b'"x"', id="string"),
        pytest.param(b"1", id="number"),
        pytest.param(b"null", id="null"),
        pytest.param(b"true", id="true"),
        pytest.param(b"", id="empty"),
    ],
)
def test_body_that_is_not_a_json_object_is_422(
    client: TestClient, session: Session, body: bytes
) -> None:
    hero = stored_hero(session)

    responses = post_and_patch(client, hero, body)

    for response in responses:
        assert_clean_4xx(response, 422)
    assert_nothing_changed(session, hero)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{bad", id="unquoted"),
        pytest.param(b'{"name": }', id="missing-value"),
        pytest.param(b'{"name": "Trunc', id="truncated"),
        pytest.param(b'{"name": "A", "secret_name": "B",}', id="trailing-comma"),
        pytest.param(b'{"name": "raw\x00nul", "secret_name": "B"}', id="raw-control-char"),
    ],
)
def test_invalid_json_is_400_malformed_body(
    client: TestClient, session: Session, body: bytes
) -> None:
    hero = stored_hero(session)

    responses = post_and_patch(client, hero, body)

    for response in responses:
        assert_clean_4xx(response, 400)
        assert response.json() == {"detail": "Malformed JSON body"}
    assert_nothing_changed(session, hero)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b"\xff\xfe", id="invalid-start-byte"),
        pytest.param(b"\xc3(", id="broken-sequence"),
        pytest.param(b"\xc0\xaf", id="overlong"),
        pytest.param(b"\xed\xa0\x80", id="encoded-surrogate"),
    ],
)
def test_invalid_utf8_is_400(client: TestClient, session: Session, text: bytes) -> None:
    hero = stored_hero(session)
    body = b'{"name": "' + text + b'", "secret_name": "' + text + b'"}'

    responses = post_and_patch(client, hero, body)

    for response in responses:
        assert_clean_4xx(response, 400)
        assert response.json() == {"detail": "Malformed JSON body"}
    assert_nothing_changed(session, hero)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="arrays"),
        pytest.param(b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, id="objects"),
        pytest.param(
            b'{"name": "Deep", "secret_name": "Deep", "x": '
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}",
            id="inside-a-hero",
        ),
    ],
)
def test_deeply_nested_json_under_the_size_limit_is_400(
    client: TestClient, session: Session, settings: Settings, body: bytes
) -> None:
    hero = stored_hero(session)
    assert len(body) <= settings.max_body_size

    responses = post_and_patch(client, hero, body)

    for response in responses:
        assert_clean_4xx(response, 400)
        assert response.json() == {"detail": "Malformed JSON body"}
    assert_nothing_changed(session, hero)


# --- bodies over the size limit ------------------------------------------------------------


def oversized_hero(size: int) -> bytes:
    """A body that would create or change a hero, but for being `size` bytes long."""
    head = b'{"name": "Big", "secret_name": "Big", "padding": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_body_over_the_limit_with_content_length_is_413(
    client: TestClient, session: Session, settings: Settings
) -> None:
    hero = stored_hero(session)
    body = oversized_hero(settings.max_body_size + 1)

    responses = post_and_patch(client, hero, body)

    for response in responses:
        assert response.request.headers["content-length"] == str(len(body))
        assert_clean_4xx(response, 413)
        assert response.json() == {"detail": "Content Too Large"}
    assert_nothing_changed(session, hero)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_streamed_body_over_the_limit_without_content_length_is_413(
    client: TestClient, session: Session, settings: Settings, method: str
) -> None:
    hero = stored_hero(session)
    url = "/heroes/" if method == "POST" else f"/heroes/{hero.id}"
    body = oversized_hero(settings.max_body_size + 1)

    response = client.request(method, url, content=chunks(body), headers=JSON_HEADERS)

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_clean_4xx(response, 413)
    assert response.json() == {"detail": "Content Too Large"}
    assert_nothing_changed(session, hero)


def test_streamed_body_within_the_limit_is_accepted(
    client: TestClient, session: Session, settings: Settings
) -> None:
    body = oversized_hero(settings.max_body_size)

    response = client.post("/heroes/", content=chunks(body), headers=JSON_HEADERS)

    assert "content-length" not in response.request.headers
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Big"


# --- ids, offsets and limits out of range --------------------------------------------------


def requests_on_one_hero(client: TestClient, hero_id: int) -> list[httpx.Response]:
    return [
        client.get(f"/heroes/{hero_id}"),
        client.patch(f"/heroes/{hero_id}", json={"name": "Changed"}),
        client.delete(f"/heroes/{hero_id}"),
    ]


def test_path_id_past_32_bits_is_404_and_changes_nothing(
    client: TestClient, session: Session
) -> None:
    """A whole number no hero can have (ids are 32-bit) is a hero that is not there."""
    hero = stored_hero(session)

    for response in requests_on_one_hero(client, 2**31):
        assert_clean_4xx(response, 404)
        assert response.json() == {"detail": "Hero not found"}
    assert_nothing_changed(session, hero)


def test_path_id_past_64_bits_is_422_naming_the_path_and_changes_nothing(
    client: TestClient, session: Session
) -> None:
    """Past what any backend's integer holds, the id fails the path's validation."""
    hero = stored_hero(session)

    for response in requests_on_one_hero(client, 2**63):
        assert_clean_4xx(response, 422)
        (problem,) = response.json()["detail"]
        assert (problem["loc"], problem["type"]) == (["path", "hero_id"], "less_than_equal")
    assert_nothing_changed(session, hero)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"offset": 10**20}, id="offset-10**20"),
        pytest.param({"offset": -1}, id="offset--1"),
        pytest.param({"limit": -1}, id="limit--1"),
        pytest.param({"limit": 10**20}, id="limit-10**20"),
    ],
)
def test_list_with_out_of_range_offset_or_limit_is_422(
    client: TestClient, session: Session, params: dict[str, int]
) -> None:
    hero = stored_hero(session)

    response = client.get("/heroes/", params=params)

    assert_clean_4xx(response, 422)
    assert_nothing_changed(session, hero)


def test_largest_accepted_offset_returns_an_empty_page(
    client: TestClient, session: Session
) -> None:
    stored_hero(session)

    response = client.get("/heroes/", params={"offset": 2**63 - 1})

    assert response.status_code == 200, response.text
    assert response.json() == []


def test_limit_100_caps_the_page_at_100(client: TestClient, session: Session) -> None:
    session.add_all(Hero(name=f"Crowd {n}", secret_name="Extra") for n in range(101))
    session.commit()

    response = client.get("/heroes/", params={"limit": 100})

    assert response.status_code == 200
    assert len(response.json()) == 100


# --- legal but unusual input is kept byte for byte -----------------------------------------

ODD_VALUES = [
    pytest.param("\U0001f9b8\u200d\u2640\ufe0f", id="emoji-zwj"),
    pytest.param("Hero \U0001f680\U0001f30d", id="emoji-non-BMP"),
    pytest.param("مرحبا", id="arabic"),
    pytest.param("\u200f\u05e9\u05dc\u05d5\u05dd\u200f", id="hebrew-with-RLM"),  # שלום
    pytest.param("Robert'); DROP TABLE hero;--", id="sql-looking"),
    pytest.param('O\'Brien "Q" back\\slash \\n', id="quotes-backslashes"),
    pytest.param("e\u0301 n\u0303 a\u0308\u0323", id="combining"),
    pytest.param("  padded  ", id="padded"),
    pytest.param(NON_BMP * NAME_MAX_LENGTH, id="max-length-non-BMP"),
    pytest.param("x" * NAME_MAX_LENGTH, id="max-length-ascii"),
]


def assert_kept_exactly(
    client: TestClient, session: Session, response: httpx.Response, value: str
) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["name"] == value
    hero_id = response.json()["id"]
    assert client.get(f"/heroes/{hero_id}").json()["name"] == value
    stored = read_stored(session, hero_id)
    assert stored is not None
    assert (stored.name, stored.secret_name) == (value, value)


@pytest.mark.parametrize("value", ODD_VALUES)
def test_odd_but_legal_text_is_created_exactly(
    client: TestClient, session: Session, value: str
) -> None:
    response = client.post("/heroes/", json={"name": value, "secret_name": value})

    assert_kept_exactly(client, session, response, value)


@pytest.mark.parametrize("value", ODD_VALUES)
def test_odd_but_legal_text_is_patched_exactly(
    client: TestClient, session: Session, value: str
) -> None:
    hero = stored_hero(session)

    response = client.patch(f"/heroes/{hero.id}", json={"name": value, "secret_name": value})

    assert_kept_exactly(client, session, response, value)


@pytest.mark.parametrize(
    ("field", "max_length"),
    [("name", NAME_MAX_LENGTH), ("secret_name", SECRET_NAME_MAX_LENGTH)],
)
def test_each_name_of_exactly_max_non_bmp_characters_is_stored(
    client: TestClient, session: Session, field: str, max_length: int
) -> None:
    value = NON_BMP * max_length

    response = client.post("/heroes/", json={"name": "N", "secret_name": "S", field: value})

    assert response.status_code == 200, response.text
    stored = read_stored(session, response.json()["id"])
    assert stored is not None
    assert getattr(stored, field) == value


@pytest.mark.parametrize("age", [0, AGE_MAX, 28.0], ids=["0", "2**31-1", "integral-float"])
def test_age_boundaries_are_accepted_on_post_and_patch(
    client: TestClient, session: Session, age: float
) -> None:
    """`28.0` is the JSON integer 28 (JSON Schema's `integer` admits it), answered as 28."""
    hero = stored_hero(session)

    created = client.post("/heroes/", json={"name": "A", "secret_name": "B", "age": age})
    patched = client.patch(f"/heroes/{hero.id}", json={"age": age})

    assert (created.status_code, patched.status_code) == (200, 200)
    assert created.json()["age"] == patched.json()["age"] == int(age)
    assert type(created.json()["age"]) is type(patched.json()["age"]) is int
    stored = read_stored(session, hero.id)
    assert stored is not None
    assert stored.age == age


# --- one URL per hero ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["0{id}", "+{id}", "{id}.0", "%20{id}", "{id}%20", "0_{id}", "{id}_0"]
)
def test_an_id_not_written_as_str_int_writes_it_is_422_on_every_method(
    client: TestClient, session: Session, spelling: str
) -> None:
    hero = stored_hero(session)
    url = f"/heroes/{spelling.format(id=hero.id)}"

    responses = [
        client.get(url),
        client.patch(url, json={"name": "Changed"}),
        client.delete(url),
    ]

    for response in responses:
        assert_clean_4xx(response, 422)
        (problem,) = response.json()["detail"]
        assert problem["type"] == "int_canonical"
        assert problem["loc"] == ["path", "hero_id"]
    assert_nothing_changed(session, hero)


@pytest.mark.parametrize("spelling", ["-0", "-00", "00"])
def test_zero_has_one_spelling(client: TestClient, spelling: str) -> None:
    assert_clean_4xx(client.get(f"/heroes/{spelling}"), 422)
    assert client.get("/heroes/0").status_code == 404


def test_a_negative_id_in_canonical_form_is_still_looked_up(client: TestClient) -> None:
    assert client.get("/heroes/-4").json() == {"detail": "Hero not found"}


def test_every_integer_path_parameter_is_canonical_only(client: TestClient) -> None:
    """The check rides on the parameter's type: every route that takes an integer from
    its path must use CanonicalInt (app/http/path_ids.py)."""
    checked = 0
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]  # TestClient.app is the FastAPI app
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for field in route.dependant.path_params:
            if field.field_info.annotation is int:
                assert CanonicalInt in field.field_info.metadata, (route.path, field.name)
                checked += 1
    assert checked >= 3  # GET, PATCH and DELETE /heroes/{hero_id}
