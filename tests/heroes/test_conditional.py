"""Conditional requests on every backend: ETag and Last-Modified, 304, 412, 428, Location.

A hero's ETag is `"<id>.<version>"`; every change bumps the version. Without If-Match the
tutorial's last write wins; with it, a write happens only on the state the client saw.
"""

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.heroes.models import Hero
from tests.factories import make_hero, read_stored
from tests.racing import race

PRECONDITION_FAILED = {
    "detail": "Precondition Failed: the resource has changed since the ETag in If-Match"
}


def stored(session: Session, hero_id: int) -> Hero:
    hero = read_stored(session, hero_id)
    assert hero is not None
    return hero


def etag(hero_id: int, version: int) -> str:
    return f'"{hero_id}.{version}"'


@pytest.fixture
def hero(client: TestClient, session: Session) -> Hero:
    return make_hero(session, name="Deadpond", age=28)


@pytest.fixture
def hero_id(hero: Hero) -> int:
    assert hero.id is not None
    return hero.id


# --- validators on every response that returns one hero ------------------------------------


def test_post_answers_200_the_tutorials_body_an_etag_and_the_heroes_location(
    client: TestClient,
) -> None:
    response = client.post("/heroes/", json={"name": "Rusty-Man", "secret_name": "Tommy", "id": 9})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "name", "age"}
    assert response.headers["etag"] == etag(body["id"], 1)
    assert response.headers["location"] == f"http://testserver/heroes/{body['id']}"
    assert client.get(response.headers["location"]).json() == body


def test_get_and_patch_answer_the_etag_of_the_version_they_show(
    client: TestClient, session: Session, hero_id: int
) -> None:
    assert client.get(f"/heroes/{hero_id}").headers["etag"] == etag(hero_id, 1)

    patched = client.patch(f"/heroes/{hero_id}", json={"age": 29})

    assert patched.headers["etag"] == etag(hero_id, 2)
    assert client.get(f"/heroes/{hero_id}").headers["etag"] == etag(hero_id, 2)
    assert stored(session, hero_id).version == 2


def test_an_empty_patch_keeps_the_etag(client: TestClient, hero_id: int) -> None:
    response = client.patch(f"/heroes/{hero_id}", json={})

    assert response.headers["etag"] == etag(hero_id, 1)


def test_a_patch_that_sets_the_same_values_is_still_a_new_version(
    client: TestClient, hero_id: int
) -> None:
    response = client.patch(f"/heroes/{hero_id}", json={"age": 28})

    assert response.headers["etag"] == etag(hero_id, 2)


# --- GET: If-None-Match and If-Modified-Since ----------------------------------------------


@pytest.mark.parametrize(
    "if_none_match",
    ['"{id}.1"', 'W/"{id}.1"', '"other", "{id}.1"', "*"],
)
def test_get_naming_the_current_etag_answers_304_without_a_body(
    client: TestClient, hero_id: int, if_none_match: str
) -> None:
    fresh = client.get(f"/heroes/{hero_id}")

    response = client.get(
        f"/heroes/{hero_id}", headers={"If-None-Match": if_none_match.format(id=hero_id)}
    )

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == fresh.headers["etag"]
    assert response.headers["last-modified"] == fresh.headers["last-modified"]


@pytest.mark.parametrize("if_none_match", ['"{id}.2"', '"1{id}.1"', "garbage", '"{id}.1'])
def test_get_with_another_or_unreadable_etag_answers_the_hero(
    client: TestClient, hero_id: int, if_none_match: str
) -> None:
    response = client.get(
        f"/heroes/{hero_id}", headers={"If-None-Match": if_none_match.format(id=hero_id)}
    )

    assert response.status_code == 200
    assert response.json()["id"] == hero_id


def test_a_change_makes_the_old_etag_answer_200_again(client: TestClient, hero_id: int) -> None:
    old = client.get(f"/heroes/{hero_id}").headers["etag"]
    client.patch(f"/heroes/{hero_id}", json={"name": "Dead Pond"})

    response = client.get(f"/heroes/{hero_id}", headers={"If-None-Match": old})

    assert response.status_code == 200
    assert response.json()["name"] == "Dead Pond"


def shifted(http_date: str, seconds: int) -> str:
    return format_datetime(parsedate_to_datetime(http_date) + timedelta(seconds=seconds), True)


def test_if_modified_since_answers_304_unless_the_hero_changed_after_it(
    client: TestClient, hero_id: int
) -> None:
    last_modified = client.get(f"/heroes/{hero_id}").headers["last-modified"]

    def status(if_modified_since: str, **headers: str) -> int:
        headers["If-Modified-Since"] = if_modified_since
        return client.get(f"/heroes/{hero_id}", headers=headers).status_code

    assert status(last_modified) == 304
    assert status(shifted(last_modified, 60)) == 304
    assert status(shifted(last_modified, -1)) == 200
    assert status("not a date") == 200
    # If-None-Match, when sent, decides alone.
    assert status(shifted(last_modified, 60), **{"If-None-Match": '"0.0"'}) == 200


# --- PATCH and DELETE: If-Match ------------------------------------------------------------


def test_patch_with_the_current_etag_changes_the_hero(client: TestClient, hero_id: int) -> None:
    response = client.patch(
        f"/heroes/{hero_id}", json={"age": 30}, headers={"If-Match": etag(hero_id, 1)}
    )

    assert response.status_code == 200
    assert response.json() == {"name": "Deadpond", "age": 30, "id": hero_id}
    assert response.headers["etag"] == etag(hero_id, 2)


@pytest.mark.parametrize(
    "if_match",
    [
        '"{id}.2"',  # a version it never had
        'W/"{id}.1"',  # If-Match compares strongly
        '"{other}.1"',  # another hero's tag
        '"{id}.01"',  # not how the service spells a version
        '"{id}.1',  # unreadable: refused, not taken as absent
        "",
    ],
)
def test_patch_with_a_stale_or_foreign_etag_is_412_and_changes_nothing(
    client: TestClient, session: Session, hero_id: int, if_match: str
) -> None:
    response = client.patch(
        f"/heroes/{hero_id}",
        json={"age": 30},
        headers={"If-Match": if_match.format(id=hero_id, other=hero_id + 1)},
    )

    assert response.status_code == 412
    assert response.json() == PRECONDITION_FAILED
    assert response.headers["etag"] == etag(hero_id, 1)
    unchanged = stored(session, hero_id)
    assert (unchanged.age, unchanged.version) == (28, 1)


@pytest.mark.parametrize("if_match", ["*", '"{id}.7", "{id}.1"', '"a,b", "{id}.1"'])
def test_patch_with_any_or_a_list_naming_the_current_etag_changes_the_hero(
    client: TestClient, hero_id: int, if_match: str
) -> None:
    response = client.patch(
        f"/heroes/{hero_id}", json={"age": 30}, headers={"If-Match": if_match.format(id=hero_id)}
    )

    assert response.status_code == 200
    assert response.headers["etag"] == etag(hero_id, 2)


def test_many_listed_etags_are_all_considered(client: TestClient, hero_id: int) -> None:
    client.patch(f"/heroes/{hero_id}", json={"age": 29})
    client.patch(f"/heroes/{hero_id}", json={"age": 30})
    listed = ", ".join(etag(hero_id, version) for version in (*range(4, 40), 3))

    response = client.patch(f"/heroes/{hero_id}", json={"age": 31}, headers={"If-Match": listed})

    assert response.status_code == 200
    assert response.headers["etag"] == etag(hero_id, 4)


def test_an_empty_patch_checks_its_precondition_too(client: TestClient, hero_id: int) -> None:
    stale = client.patch(f"/heroes/{hero_id}", json={}, headers={"If-Match": etag(hero_id, 5)})
    current = client.patch(f"/heroes/{hero_id}", json={}, headers={"If-Match": etag(hero_id, 1)})

    assert (stale.status_code, current.status_code) == (412, 200)
    assert current.headers["etag"] == etag(hero_id, 1)


def test_a_missing_hero_is_404_whatever_if_match_says(client: TestClient) -> None:
    for headers in ({"If-Match": '"999999.1"'}, {"If-Match": "*"}, {"If-Match": '"x"'}):
        patched = client.patch("/heroes/999999", json={"age": 1}, headers=headers)
        deleted = client.delete("/heroes/999999", headers=headers)

        assert (patched.status_code, deleted.status_code) == (404, 404), headers
        assert deleted.json() == {"detail": "Hero not found"}


def test_delete_with_a_stale_etag_is_412_and_keeps_the_hero(
    client: TestClient, session: Session, hero_id: int
) -> None:
    client.patch(f"/heroes/{hero_id}", json={"age": 29})

    stale = client.delete(f"/heroes/{hero_id}", headers={"If-Match": etag(hero_id, 1)})

    assert stale.status_code == 412
    assert stale.headers["etag"] == etag(hero_id, 2)
    assert read_stored(session, hero_id) is not None


def test_delete_with_the_current_etag_deletes(
    client: TestClient, session: Session, hero_id: int
) -> None:
    response = client.delete(f"/heroes/{hero_id}", headers={"If-Match": etag(hero_id, 1)})

    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert read_stored(session, hero_id) is None


# --- If-Match required by the deployment ---------------------------------------------------


@pytest.fixture
def if_match_required(client: TestClient) -> Iterator[TestClient]:
    app: Any = client.app
    options = app.state.http_options
    app.state.http_options = replace(options, require_if_match=True)
    try:
        yield client
    finally:
        app.state.http_options = options


def test_writes_without_if_match_get_428_when_it_is_required(
    if_match_required: TestClient, session: Session, hero_id: int
) -> None:
    client = if_match_required
    patched = client.patch(f"/heroes/{hero_id}", json={"age": 30})
    deleted = client.delete(f"/heroes/{hero_id}")

    assert (patched.status_code, deleted.status_code) == (428, 428)
    assert patched.json() == {
        "detail": "Precondition Required: send If-Match with the ETag of the state you change"
    }
    assert stored(session, hero_id).age == 28
    # Reads and creates need no precondition; a write with one goes through.
    assert client.get(f"/heroes/{hero_id}").status_code == 200
    assert client.post("/heroes/", json={"name": "A", "secret_name": "B"}).status_code == 200
    with_tag = client.patch(
        f"/heroes/{hero_id}", json={"age": 30}, headers={"If-Match": etag(hero_id, 1)}
    )
    assert with_tag.status_code == 200


# --- the race: no lost update ---------------------------------------------------------------


def test_of_concurrent_patches_with_one_if_match_exactly_one_wins(
    client: TestClient, session: Session, hero_id: int
) -> None:
    contenders = 12
    tag = client.get(f"/heroes/{hero_id}").headers["etag"]

    def patch_to(age: int) -> Any:
        return lambda: client.patch(
            f"/heroes/{hero_id}", json={"age": age}, headers={"If-Match": tag}
        )

    responses = race([patch_to(100 + n) for n in range(contenders)])

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * (contenders - 1)
    winner = next(response for response in responses if response.status_code == 200)
    assert winner.headers["etag"] == etag(hero_id, 2)
    losers = [response for response in responses if response.status_code == 412]
    assert {response.headers["etag"] for response in losers} == {etag(hero_id, 2)}
    final = stored(session, hero_id)
    assert (final.age, final.version) == (winner.json()["age"], 2)


def test_an_overlong_if_match_is_422_and_changes_nothing(
    client: TestClient, session: Session, hero_id: int
) -> None:
    listed = ", ".join([etag(hero_id, 1)] * 200)  # over the 1,024 characters allowed

    response = client.patch(f"/heroes/{hero_id}", json={"age": 30}, headers={"If-Match": listed})

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "string_too_long",
                "loc": ["header", "if-match"],
                "msg": "String should have at most 1024 characters",
                "ctx": {"max_length": 1024},
            }
        ]
    }
    assert stored(session, hero_id).age == 28


def test_the_conditional_headers_are_declared_for_docs(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    def headers(method: str) -> set[str]:
        parameters = paths["/heroes/{hero_id}"][method]["parameters"]
        return {parameter["name"] for parameter in parameters if parameter["in"] == "header"}

    assert headers("get") == {"If-None-Match", "If-Modified-Since"}
    conditions = {"If-Match", "If-None-Match", "If-Unmodified-Since"}
    assert headers("delete") == conditions
    assert headers("patch") == conditions | {"Idempotency-Key"}
    assert paths["/heroes/"]["post"]["responses"]["200"]["headers"].keys() == {
        "ETag",
        "Last-Modified",
        "Cache-Control",
        "Location",
        "Idempotent-Replayed",
    }


# --- PATCH and DELETE: If-Unmodified-Since and If-None-Match -------------------------------


def aged(session: Session, hero_id: int) -> str:
    """Make the hero's last change a day old; its Last-Modified."""
    hero = stored(session, hero_id)
    hero.updated_at = hero.updated_at - timedelta(days=1)
    session.add(hero)
    session.commit()
    return format_datetime(hero.updated_at, usegmt=True)


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_a_write_if_unmodified_since_before_the_last_change_is_412_and_changes_nothing(
    client: TestClient, session: Session, hero_id: int, method: str
) -> None:
    last_modified = client.get(f"/heroes/{hero_id}").headers["last-modified"]

    response = client.request(
        method,
        f"/heroes/{hero_id}",
        json={"age": 30} if method == "PATCH" else None,
        headers={"If-Unmodified-Since": shifted(last_modified, -1)},
    )

    assert response.status_code == 412
    assert response.headers["etag"] == etag(hero_id, 1)
    unchanged = stored(session, hero_id)
    assert (unchanged.age, unchanged.version) == (28, 1)


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
@pytest.mark.parametrize("seconds", [0, 60])
def test_a_write_if_unmodified_since_the_last_change_goes_through(
    client: TestClient, hero_id: int, method: str, seconds: int
) -> None:
    last_modified = client.get(f"/heroes/{hero_id}").headers["last-modified"]

    response = client.request(
        method,
        f"/heroes/{hero_id}",
        json={"age": 30} if method == "PATCH" else None,
        headers={"If-Unmodified-Since": shifted(last_modified, seconds)},
    )

    assert response.status_code == 200


def test_if_unmodified_since_is_ignored_beside_if_match_or_when_not_a_date(
    client: TestClient, hero_id: int
) -> None:
    stale = shifted(client.get(f"/heroes/{hero_id}").headers["last-modified"], -60)

    with_if_match = client.patch(
        f"/heroes/{hero_id}",
        json={"age": 30},
        headers={"If-Unmodified-Since": stale, "If-Match": etag(hero_id, 1)},
    )
    not_a_date = client.patch(
        f"/heroes/{hero_id}", json={"age": 31}, headers={"If-Unmodified-Since": "yesterday"}
    )

    assert (with_if_match.status_code, not_a_date.status_code) == (200, 200)


def test_an_empty_patch_checks_if_unmodified_since_too(client: TestClient, hero_id: int) -> None:
    last_modified = client.get(f"/heroes/{hero_id}").headers["last-modified"]

    stale = client.patch(
        f"/heroes/{hero_id}", json={}, headers={"If-Unmodified-Since": shifted(last_modified, -1)}
    )
    current = client.patch(
        f"/heroes/{hero_id}", json={}, headers={"If-Unmodified-Since": last_modified}
    )

    assert (stale.status_code, current.status_code) == (412, 200)


def test_of_concurrent_patches_with_one_if_unmodified_since_exactly_one_wins(
    client: TestClient, session: Session, hero_id: int
) -> None:
    """The date is checked in the UPDATE itself: the first change moves `updated_at` past
    it, and every other writer's statement then matches no row."""
    contenders = 12
    last_modified = aged(session, hero_id)

    def patch_to(age: int) -> Any:
        return lambda: client.patch(
            f"/heroes/{hero_id}", json={"age": age}, headers={"If-Unmodified-Since": last_modified}
        )

    responses = race([patch_to(100 + n) for n in range(contenders)])

    assert sorted(response.status_code for response in responses) == [200] + [412] * (
        contenders - 1
    )
    assert stored(session, hero_id).version == 2


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
@pytest.mark.parametrize(
    "if_none_match", ["*", '"{id}.1"', 'W/"{id}.1"', '"x", "{id}.1"', '"{id}.1']
)
def test_a_write_whose_if_none_match_names_the_hero_is_412_and_changes_nothing(
    client: TestClient, session: Session, hero_id: int, method: str, if_none_match: str
) -> None:
    response = client.request(
        method,
        f"/heroes/{hero_id}",
        json={"age": 30} if method == "PATCH" else None,
        headers={"If-None-Match": if_none_match.format(id=hero_id)},
    )

    assert response.status_code == 412
    assert response.headers["etag"] == etag(hero_id, 1)
    unchanged = stored(session, hero_id)
    assert (unchanged.age, unchanged.version) == (28, 1)


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_a_write_whose_if_none_match_names_another_state_goes_through(
    client: TestClient, hero_id: int, method: str
) -> None:
    headers = {"If-None-Match": f'"{hero_id}.2", "{hero_id + 1}.1"'}

    response = client.request(
        method,
        f"/heroes/{hero_id}",
        json={"age": 30} if method == "PATCH" else None,
        headers=headers,
    )

    assert response.status_code == 200


def test_if_none_match_star_on_a_missing_hero_is_404(client: TestClient) -> None:
    response = client.patch("/heroes/999999", json={"age": 1}, headers={"If-None-Match": "*"})

    assert response.status_code == 404


def test_every_answer_with_an_etag_tells_caches_to_revalidate(
    client: TestClient, hero_id: int
) -> None:
    answers = [
        client.get(f"/heroes/{hero_id}"),
        client.get(f"/heroes/{hero_id}", headers={"If-None-Match": etag(hero_id, 1)}),
        client.patch(f"/heroes/{hero_id}", json={"age": 30}),
        client.patch(f"/heroes/{hero_id}", json={}, headers={"If-Match": etag(hero_id, 1)}),
        client.post("/heroes/", json={"name": "Cached", "secret_name": "s"}),
    ]

    assert [answer.status_code for answer in answers] == [200, 304, 200, 412, 200]
    for answer in answers:
        assert "etag" in answer.headers
        assert answer.headers["cache-control"] == "no-cache"
