"""Racing requests on teams resolve in the database, on every backend: one team per name,
no hero left naming a team that is gone, no lost update under If-Match, and no 5xx when
heroes move between teams that are being renamed (deadlocks are retried).

Requests go from several threads through the running app's TestClient, as in
tests/heroes/test_concurrency.py (whose first test proves they reach the database together).
"""

import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.heroes.models import Hero
from app.teams.models import Team
from tests.factories import make_hero, make_team, read_team, stored_id
from tests.racing import TIMEOUT, Call, race

NAME_TAKEN = {"detail": "A team with this name already exists"}
MISSING_TEAM = {
    "detail": [
        {"type": "missing_reference", "loc": ["body", "team_id"], "msg": "No team has this id"}
    ]
}
PRECONDITION_FAILED = {
    "detail": "Precondition Failed: the resource has changed since the ETag in If-Match"
}


def answers(responses: list[httpx.Response]) -> list[tuple[int, Any]]:
    return [(response.status_code, response.json()) for response in responses]


def every_hero(session: Session) -> list[Hero]:
    """Every hero as stored now: plain records that later reads leave alone."""
    session.rollback()
    heroes = list(session.exec(select(Hero).order_by(col(Hero.id))).all())
    session.expunge_all()
    return heroes


def every_team(session: Session) -> list[Team]:
    session.rollback()
    teams = list(session.exec(select(Team).order_by(col(Team.id))).all())
    session.expunge_all()
    return teams


def assert_no_dangling_team(session: Session) -> None:
    teams = {team.id for team in every_team(session)}
    dangling = [hero.id for hero in every_hero(session) if hero.team_id not in teams | {None}]
    assert dangling == []


# --- one team per name ---------------------------------------------------------------------


def test_of_concurrent_posts_of_one_name_exactly_one_is_stored(
    client: TestClient, session: Session
) -> None:
    for round_number in range(5):
        name = f"Preventers {round_number}"
        body = {"name": name, "headquarters": "Sharp Tower"}

        responses = race([partial(client.post, "/teams/", json=body) for _ in range(8)])

        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [409] * 7, answers(responses)
        assert all(r.json() == NAME_TAKEN for r in responses if r.status_code == 409)
        (winner,) = [r.json() for r in responses if r.status_code == 200]
        assert [team.id for team in every_team(session) if team.name == name] == [winner["id"]]


def test_of_two_posts_of_one_name_one_is_200_and_the_other_409(
    client: TestClient, session: Session
) -> None:
    for round_number in range(10):
        body = {"name": f"Pair {round_number}", "headquarters": "x"}

        responses = race([partial(client.post, "/teams/", json=body) for _ in range(2)])

        assert sorted(r.status_code for r in responses) == [200, 409], answers(responses)
    assert len(every_team(session)) == 10


def test_of_concurrent_renames_to_one_name_exactly_one_wins(
    client: TestClient, session: Session
) -> None:
    for round_number in range(5):
        teams = [stored_id(make_team(session)) for _ in range(6)]
        name = f"Taken {round_number}"

        calls: list[Call] = [
            partial(client.patch, f"/teams/{team_id}", json={"name": name}) for team_id in teams
        ]
        responses = race(calls)

        statuses = [response.status_code for response in responses]
        assert sorted(statuses) == [200] + [409] * 5, answers(responses)
        winner = teams[statuses.index(200)]
        named = [team.id for team in every_team(session) if team.name == name]
        assert named == [winner]
        for team_id, status in zip(teams, statuses, strict=True):
            stored = read_team(session, team_id)
            assert stored is not None
            assert stored.version == (2 if status == 200 else 1)


# --- heroes joining a team that is being deleted -------------------------------------------


def test_heroes_joining_a_team_being_deleted_are_released_or_refused(
    client: TestClient, session: Session
) -> None:
    for _ in range(8):
        team_id = stored_id(make_team(session))
        loners = [stored_id(make_hero(session)) for _ in range(3)]
        posts: list[Call] = [
            partial(
                client.post,
                "/heroes/",
                json={"name": f"New {i}", "secret_name": "s", "team_id": team_id},
            )
            for i in range(3)
        ]
        patches: list[Call] = [
            partial(client.patch, f"/heroes/{hero_id}", json={"team_id": team_id})
            for hero_id in loners
        ]

        *joined, deleted = race([*posts, *patches, partial(client.delete, f"/teams/{team_id}")])

        assert (deleted.status_code, deleted.json()) == (200, {"ok": True})
        for response in joined:
            assert response.status_code in (200, 422), response.text
            if response.status_code == 422:
                assert response.json() == MISSING_TEAM
        assert_no_dangling_team(session)
        assert all(hero.team_id is None for hero in every_hero(session))
        created = [r.json()["id"] for r in joined[:3] if r.status_code == 200]
        assert len([h for h in every_hero(session) if h.name.startswith("New")]) == len(created)
        for hero in every_hero(session):
            assert client.delete(f"/heroes/{hero.id}").status_code == 200


def test_a_member_changing_while_its_team_is_deleted_never_fails(
    client: TestClient, session: Session
) -> None:
    for round_number in range(8):
        team_id = stored_id(make_team(session))
        members = [stored_id(make_hero(session, team_id=team_id)) for _ in range(4)]
        calls: list[Call] = [
            partial(client.patch, f"/heroes/{hero_id}", json={"age": round_number})
            for hero_id in members
        ]

        *changed, deleted = race([*calls, partial(client.delete, f"/teams/{team_id}")])

        assert deleted.status_code == 200, deleted.text
        assert all(response.status_code == 200 for response in changed), answers(changed)
        assert_no_dangling_team(session)
        for hero in every_hero(session):
            if hero.id in members:
                assert (hero.team_id, hero.age) == (None, round_number)


# --- If-Match: no lost update --------------------------------------------------------------


def test_of_concurrent_if_match_patches_of_one_team_exactly_one_wins(
    client: TestClient, session: Session
) -> None:
    team = make_team(session, name="Start")
    current = client.get(f"/teams/{team.id}").headers["etag"]
    calls: list[Call] = [
        partial(
            client.patch,
            f"/teams/{team.id}",
            json={"headquarters": f"HQ {i}"},
            headers={"If-Match": current},
        )
        for i in range(10)
    ]

    responses = race(calls)

    statuses = [response.status_code for response in responses]
    assert sorted(statuses) == [200] + [412] * 9, answers(responses)
    assert all(r.json() == PRECONDITION_FAILED for r in responses if r.status_code == 412)
    winner = statuses.index(200)
    stored = read_team(session, team.id)
    assert stored is not None
    assert (stored.headquarters, stored.version) == (f"HQ {winner}", 2)


def test_an_if_match_delete_racing_a_member_change_is_200_or_412(
    client: TestClient, session: Session
) -> None:
    for round_number in range(6):
        team = make_team(session)
        hero = make_hero(session, team_id=team.id)
        seen = client.get(f"/teams/{team.id}").headers["etag"]

        changed, deleted = race(
            [
                partial(client.patch, f"/heroes/{hero.id}", json={"age": round_number}),
                partial(client.delete, f"/teams/{team.id}", headers={"If-Match": seen}),
            ]
        )

        assert changed.status_code == 200, changed.text
        assert deleted.status_code in (200, 412), deleted.text
        stored = read_team(session, team.id)
        # The DELETE won only if it came first: then the hero was released, not touched.
        assert (stored is None) == (deleted.status_code == 200)
        assert_no_dangling_team(session)


# --- heroes moving between teams that are being renamed ------------------------------------


def test_heroes_moving_between_teams_being_renamed_never_get_a_5xx(
    client: TestClient, session: Session
) -> None:
    first, second = stored_id(make_team(session)), stored_id(make_team(session))
    heroes = [stored_id(make_hero(session, team_id=(first, second)[i % 2])) for i in range(8)]
    for round_number in range(4):
        moves: list[Call] = [
            partial(
                client.patch,
                f"/heroes/{hero_id}",
                json={"team_id": (second, first)[(i + round_number) % 2], "age": round_number},
            )
            for i, hero_id in enumerate(heroes)
        ]
        renames: list[Call] = [
            partial(client.patch, f"/teams/{team_id}", json={"name": f"T{team_id}-{round_number}"})
            for team_id in (first, second)
        ]

        responses = race([*moves, *renames])

        assert [r.status_code for r in responses] == [200] * len(responses), answers(responses)
    stored = every_hero(session)
    assert {hero.team_id for hero in stored} <= {first, second}
    for team_id in (first, second):
        listed = client.get(f"/teams/{team_id}").json()
        assert listed["name"] == f"T{team_id}-3"
        assert [h["id"] for h in listed["heroes"]] == [
            h.id for h in stored if h.team_id == team_id
        ]
        team = read_team(session, team_id)
        assert team is not None
        assert team.version > 1 + 4  # renamed four times, and touched by its heroes' moves


# --- a hero whose team changes while its write waits for that team -------------------------


def test_a_hero_moved_while_its_patch_waits_touches_its_new_team_not_its_old_one(
    client: TestClient, session: Session
) -> None:
    """The PATCH reads the hero in its old team, then waits to touch that team (the test's
    own transaction holds it); meanwhile the hero moves. The PATCH must not keep the old
    team's touch: it starts again, on the hero as it is then, and touches the new team."""
    old, new = make_team(session), make_team(session)
    hero = make_hero(session, team_id=old.id, age=1)
    connection = session.connection()
    connection.execute(update(Team).where(col(Team.id) == old.id).values(headquarters="Held"))
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        patched = pool.submit(client.patch, f"/heroes/{hero.id}", json={"age": 7})
        time.sleep(0.3)  # let the PATCH read the hero and wait for its old team
        connection.execute(update(Hero).where(col(Hero.id) == hero.id).values(team_id=new.id))
        session.commit()
        response = patched.result(timeout=TIMEOUT)
    finally:
        session.rollback()
        pool.shutdown(wait=False, cancel_futures=True)

    assert response.status_code == 200, response.text
    stored = {h.id: h for h in every_hero(session)}[hero.id]
    assert (stored.team_id, stored.age) == (new.id, 7)
    teams = {team.id: team for team in every_team(session)}
    assert (teams[old.id].version, teams[new.id].version) == (1, 2)
