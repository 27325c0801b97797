"""Conditional requests on teams, on every backend, exactly as for heroes: ETag
`"<id>.<version>"`, Last-Modified, 304, If-Match's 412 and REQUIRE_IF_MATCH's 428.

A team's answer lists its heroes, so its version moves whenever they change: a hero
joining, leaving, moving, being changed or being deleted while in it. A hero read with
`?expand=team` has an ETag that covers its team too.
"""

from collections.abc import Callable, Iterator
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.heroes.models import Hero
from app.teams.models import Team
from tests.factories import make_hero, make_team, read_stored, read_team, stored_id
from tests.heroes.test_conditional import shifted

PRECONDITION_FAILED = {
    "detail": "Precondition Failed: the resource has changed since the ETag in If-Match"
}


def etag(team_id: int | None, version: int) -> str:
    return f'"{team_id}.{version}"'


def version_of(session: Session, team: Team) -> int:
    stored = read_team(session, team.id)
    assert stored is not None
    return stored.version


@pytest.fixture
def team(session: Session) -> Team:
    return make_team(session, name="Preventers", headquarters="Sharp Tower")


@pytest.fixture
def if_match_required(client: TestClient) -> Iterator[TestClient]:
    app: Any = client.app
    options = app.state.http_options
    app.state.http_options = replace(options, require_if_match=True)
    try:
        yield client
    finally:
        app.state.http_options = options


# --- validators and reads ------------------------------------------------------------------


def test_get_patch_and_head_answer_the_etag_of_the_version_they_show(
    client: TestClient, session: Session, team: Team
) -> None:
    hero = make_hero(session)
    got = client.get(f"/teams/{team.id}")
    assert got.headers["etag"] == etag(team.id, 1)
    assert (
        got.headers["cache-control"] == client.get(f"/heroes/{hero.id}").headers["cache-control"]
    )

    patched = client.patch(f"/teams/{team.id}", json={"headquarters": "Moon"})

    assert patched.headers["etag"] == etag(team.id, 2)
    assert client.head(f"/teams/{team.id}").headers["etag"] == etag(team.id, 2)
    assert parsedate_to_datetime(patched.headers["last-modified"]) >= parsedate_to_datetime(
        got.headers["last-modified"]
    )


@pytest.mark.parametrize("if_none_match", ['"{id}.1"', 'W/"{id}.1"', '"x", "{id}.1"', "*"])
def test_get_naming_the_current_etag_is_304_without_a_body(
    client: TestClient, team: Team, if_none_match: str
) -> None:
    fresh = client.get(f"/teams/{team.id}")

    response = client.get(
        f"/teams/{team.id}", headers={"If-None-Match": if_none_match.format(id=team.id)}
    )

    assert (response.status_code, response.content) == (304, b"")
    assert response.headers["etag"] == fresh.headers["etag"]
    assert response.headers["last-modified"] == fresh.headers["last-modified"]


def test_if_modified_since_is_304_unless_the_team_changed_after_it(
    client: TestClient, team: Team
) -> None:
    last_modified = client.get(f"/teams/{team.id}").headers["last-modified"]

    def status(if_modified_since: str) -> int:
        headers = {"If-Modified-Since": if_modified_since}
        return client.get(f"/teams/{team.id}", headers=headers).status_code

    assert status(last_modified) == 304
    assert status(shifted(last_modified, 60)) == 304
    assert status(shifted(last_modified, -1)) == 200
    assert status("not a date") == 200


def test_a_missing_team_is_404_whatever_the_conditions(client: TestClient) -> None:
    for headers in ({"If-None-Match": "*"}, {"If-Match": '"9000.1"'}):
        assert client.get("/teams/9000", headers=headers).status_code == 404
        assert client.patch("/teams/9000", json={}, headers=headers).status_code == 404
        assert client.delete("/teams/9000", headers=headers).status_code == 404


# --- If-Match on PATCH and DELETE ----------------------------------------------------------


def test_patch_with_the_current_etag_changes_the_team(client: TestClient, team: Team) -> None:
    response = client.patch(
        f"/teams/{team.id}", json={"name": "P2"}, headers={"If-Match": etag(team.id, 1)}
    )

    assert response.status_code == 200
    assert response.json()["name"] == "P2"
    assert response.headers["etag"] == etag(team.id, 2)


@pytest.mark.parametrize("if_match", ['"{id}.2"', 'W/"{id}.1"', '"{other}.1"', '"{id}.1', ""])
def test_patch_and_delete_with_a_stale_or_foreign_etag_are_412_and_change_nothing(
    client: TestClient, session: Session, team: Team, if_match: str
) -> None:
    member = make_hero(session, team_id=team.id)
    header = {"If-Match": if_match.format(id=team.id, other=stored_id(team) + 1)}

    patched = client.patch(f"/teams/{team.id}", json={"name": "Changed"}, headers=header)
    deleted = client.delete(f"/teams/{team.id}", headers=header)

    for response in (patched, deleted):
        assert response.status_code == 412
        assert response.json() == PRECONDITION_FAILED
        assert response.headers["etag"] == etag(team.id, 1)
    stored = read_team(session, team.id)
    assert stored is not None
    assert (stored.name, stored.version) == ("Preventers", 1)
    hero = read_stored(session, member.id)
    assert hero is not None
    assert (hero.team_id, hero.version) == (team.id, 1)  # not released by the refused DELETE


def test_delete_with_the_current_etag_deletes_and_releases(
    client: TestClient, session: Session, team: Team
) -> None:
    member = make_hero(session, team_id=team.id)
    current = client.get(f"/teams/{team.id}").headers["etag"]

    response = client.delete(f"/teams/{team.id}", headers={"If-Match": current})

    assert (response.status_code, response.json()) == (200, {"ok": True})
    hero = read_stored(session, member.id)
    assert hero is not None
    assert (hero.team_id, hero.version) == (None, 2)


def test_an_if_match_from_before_a_member_changed_is_412(
    client: TestClient, session: Session, team: Team
) -> None:
    member = make_hero(session, team_id=team.id)
    seen = client.get(f"/teams/{team.id}").headers["etag"]
    client.patch(f"/heroes/{member.id}", json={"name": "Renamed"})

    patched = client.patch(f"/teams/{team.id}", json={"name": "X"}, headers={"If-Match": seen})
    deleted = client.delete(f"/teams/{team.id}", headers={"If-Match": seen})

    assert (patched.status_code, deleted.status_code) == (412, 412)
    assert patched.headers["etag"] == etag(team.id, 2)
    assert read_team(session, team.id) is not None


def test_writes_without_if_match_get_428_when_it_is_required(
    if_match_required: TestClient, session: Session, team: Team
) -> None:
    client = if_match_required

    patched = client.patch(f"/teams/{team.id}", json={"name": "X"})
    deleted = client.delete(f"/teams/{team.id}")

    assert (patched.status_code, deleted.status_code) == (428, 428)
    assert patched.json() == {
        "detail": "Precondition Required: send If-Match with the ETag of the state you change"
    }
    assert version_of(session, team) == 1
    assert client.post("/teams/", json={"name": "New", "headquarters": "x"}).status_code == 200
    assert client.get(f"/teams/{team.id}").status_code == 200
    with_tag = client.delete(f"/teams/{team.id}", headers={"If-Match": etag(team.id, 1)})
    assert with_tag.status_code == 200


# --- the team's version follows its heroes -------------------------------------------------


def join(client: TestClient, team: Team, from_team: int | None) -> Any:
    """A new hero (in `from_team`, or none) joins `team` by PATCH."""
    body = {"name": "J", "secret_name": "j", "team_id": from_team}
    hero_id = client.post("/heroes/", json=body).json()["id"]
    return client.patch(f"/heroes/{hero_id}", json={"team_id": team.id})


HeroChange = Callable[[TestClient, Hero, Team, Team], Any]

MEMBER_CHANGES: dict[str, HeroChange] = {
    "renamed": lambda c, hero, _t, _o: c.patch(f"/heroes/{hero.id}", json={"name": "New"}),
    "aged": lambda c, hero, _t, _o: c.patch(f"/heroes/{hero.id}", json={"age": 77}),
    "secret changed": lambda c, hero, _t, _o: c.patch(
        f"/heroes/{hero.id}", json={"secret_name": "Hidden"}
    ),
    "left": lambda c, hero, _t, _o: c.patch(f"/heroes/{hero.id}", json={"team_id": None}),
    "moved out": lambda c, hero, _t, other: c.patch(
        f"/heroes/{hero.id}", json={"team_id": other.id}
    ),
    "deleted": lambda c, hero, _t, _o: c.delete(f"/heroes/{hero.id}"),
    "joined by POST": lambda c, _h, team, _o: c.post(
        "/heroes/", json={"name": "J", "secret_name": "j", "team_id": team.id}
    ),
    "joined by PATCH": lambda c, _h, team, _o: join(c, team, None),
    "joined from another team": lambda c, _h, team, other: join(c, team, other.id),
}


@pytest.mark.parametrize("change", list(MEMBER_CHANGES), ids=list(MEMBER_CHANGES))
def test_a_member_change_moves_the_teams_etag_and_last_modified(
    client: TestClient, session: Session, team: Team, change: str
) -> None:
    other = make_team(session)
    hero = make_hero(session, team_id=team.id)
    before = client.get(f"/teams/{team.id}")

    response = MEMBER_CHANGES[change](client, hero, team, other)

    assert response.status_code == 200, response.text
    after = client.get(f"/teams/{team.id}")
    assert after.headers["etag"] != before.headers["etag"]
    assert after.headers["etag"] == etag(team.id, 2)
    stored = read_team(session, team.id)
    assert stored is not None
    assert stored.updated_at > team.updated_at
    revalidated = client.get(
        f"/teams/{team.id}", headers={"If-None-Match": before.headers["etag"]}
    )
    assert revalidated.status_code == 200


def test_a_move_touches_both_teams_once(client: TestClient, session: Session, team: Team) -> None:
    other = make_team(session)
    hero = make_hero(session, team_id=team.id)

    client.patch(f"/heroes/{hero.id}", json={"team_id": other.id})

    assert (version_of(session, team), version_of(session, other)) == (2, 2)


def test_changes_that_leave_a_team_as_it_was_listed_do_not_touch_it(
    client: TestClient, session: Session, team: Team
) -> None:
    other = make_team(session)
    member = make_hero(session, team_id=team.id)
    outsider = make_hero(session, team_id=other.id)
    loner = make_hero(session)

    client.patch(f"/heroes/{member.id}", json={})  # an empty PATCH changes nothing
    client.patch(f"/heroes/{outsider.id}", json={"name": "Elsewhere"})
    client.patch(f"/heroes/{loner.id}", json={"age": 3})
    client.post("/heroes/", json={"name": "N", "secret_name": "n"})
    stale = {"If-Match": f'"{member.id}.9"'}
    refused = client.patch(f"/heroes/{member.id}", json={"team_id": None}, headers=stale)
    missing = client.patch(f"/heroes/{member.id}", json={"team_id": 9000})

    assert (refused.status_code, missing.status_code) == (412, 422)
    assert version_of(session, team) == 1
    assert version_of(session, other) == 2
    assert client.get(f"/teams/{team.id}").headers["etag"] == etag(team.id, 1)


# --- a hero read with ?expand=team ---------------------------------------------------------


def test_an_expanded_heros_etag_changes_when_its_team_is_renamed(
    client: TestClient, session: Session, team: Team
) -> None:
    hero = make_hero(session, team_id=team.id)
    plain = client.get(f"/heroes/{hero.id}").headers["etag"]
    expanded = client.get(f"/heroes/{hero.id}?expand=team")
    assert expanded.headers["etag"] != plain
    same = client.get(
        f"/heroes/{hero.id}?expand=team", headers={"If-None-Match": expanded.headers["etag"]}
    )
    assert same.status_code == 304

    client.patch(f"/teams/{team.id}", json={"name": "Renamed"})

    again = client.get(
        f"/heroes/{hero.id}?expand=team", headers={"If-None-Match": expanded.headers["etag"]}
    )
    assert again.status_code == 200
    assert again.json()["team"]["name"] == "Renamed"
    assert again.headers["etag"] != expanded.headers["etag"]
    assert client.get(f"/heroes/{hero.id}").headers["etag"] == plain  # the hero did not change
    assert parsedate_to_datetime(again.headers["last-modified"]) >= parsedate_to_datetime(
        expanded.headers["last-modified"]
    )


def test_an_expanded_heros_etag_never_matches_if_match(
    client: TestClient, session: Session, team: Team
) -> None:
    hero = make_hero(session, team_id=team.id, age=1)
    expanded = client.get(f"/heroes/{hero.id}?expand=team").headers["etag"]

    patched = client.patch(f"/heroes/{hero.id}", json={"age": 2}, headers={"If-Match": expanded})
    deleted = client.delete(f"/heroes/{hero.id}", headers={"If-Match": expanded})

    assert (patched.status_code, deleted.status_code) == (412, 412)
    stored = read_stored(session, hero.id)
    assert stored is not None
    assert (stored.age, stored.version) == (1, 1)


def test_an_expanded_hero_without_a_team_has_its_own_etag(
    client: TestClient, session: Session
) -> None:
    hero = make_hero(session)

    expanded = client.get(f"/heroes/{hero.id}?expand=team")

    assert expanded.json()["team"] is None
    assert expanded.headers["etag"] == client.get(f"/heroes/{hero.id}").headers["etag"]


def test_a_released_heros_etag_changes(client: TestClient, session: Session, team: Team) -> None:
    hero = make_hero(session, team_id=team.id)
    seen = client.get(f"/heroes/{hero.id}?fields=team_id")

    client.delete(f"/teams/{team.id}")

    again = client.get(
        f"/heroes/{hero.id}?fields=team_id", headers={"If-None-Match": seen.headers["etag"]}
    )
    assert again.status_code == 200
    assert again.json()["team_id"] is None
    stale = client.patch(
        f"/heroes/{hero.id}", json={"age": 5}, headers={"If-Match": seen.headers["etag"]}
    )
    assert stale.status_code == 412
