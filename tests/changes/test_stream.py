"""`GET /changes` as Server-Sent Events, on every backend: what a stream says, resuming it,
its heartbeats and bookmarks, a reset, and the read policy. In process: the test client
streams a response as it comes (tests/changes/test_stream_*.py run real servers)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session

from app.auth.tokens import AccessTokens
from app.kit.changes.models import ChangeClock
from tests.changes.sse import EVENT_STREAM, Events
from tests.conftest import ServiceWith
from tests.factories import bearer, make_user, sign_in

HEARTBEAT = 0.2
TOKEN_LEFT = 1.5  # seconds


@pytest.fixture
def feed(service_with: ServiceWith) -> TestClient:
    """The service with a heartbeat short enough for a test to see (and to let every
    wait check its deadline)."""
    return service_with(changes_heartbeat_seconds=HEARTBEAT)


@contextmanager
def following(
    client: TestClient, headers: dict[str, str] | None = None, **params: Any
) -> Iterator[Events]:
    with client.stream(
        "GET", "/changes", params=params, headers=EVENT_STREAM | (headers or {})
    ) as response:
        assert response.status_code == 200, response.read()
        yield Events(response.iter_raw())


def create_hero(client: TestClient, name: str) -> int:
    response = client.post("/heroes/", json={"name": name, "secret_name": f"secret {name}"})
    assert response.status_code == 200, response.text
    hero_id: int = response.json()["id"]
    return hero_id


def json_feed(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/changes", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_a_stream_sends_each_change_as_the_json_feed_shows_it(feed: TestClient) -> None:
    with feed.stream("GET", "/changes", headers=EVENT_STREAM) as response:
        events = Events(response.iter_raw())
        start = events.next()
        hero_id = create_hero(feed, "Deadpond")
        feed.patch(f"/heroes/{hero_id}", json={"age": 30, "secret_name": "changed"})
        feed.delete(f"/heroes/{hero_id}")
        streamed = events.changes(3)

    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert start.kind == "bookmark"
    assert start.json() == {"position": start.id}
    page = json_feed(feed, since=start.id)
    assert [event.json() for event in streamed] == page["changes"]
    assert [event.id for event in streamed] == [each["position"] for each in page["changes"]]
    assert [event.json()["op"] for event in streamed] == ["create", "update", "delete"]
    assert all("secret" not in event.data for event in streamed)


def test_a_stream_resumes_after_a_disconnect_from_its_last_event_id(feed: TestClient) -> None:
    start = json_feed(feed)["position"]
    with following(feed, since=start) as events:
        first = [create_hero(feed, f"Hero {n}") for n in range(2)]
        seen = events.changes(2)
    later = [create_hero(feed, f"Hero {n}") for n in range(2, 5)]

    # An EventSource reconnects to its first URL (an older `since`) with Last-Event-ID.
    with following(feed, {"Last-Event-ID": seen[-1].id or ""}, since=start) as events:
        resumed = events.changes(3)
        events.until(lambda event: event.kind == "comment")  # and nothing more

    assert [event.json()["id"] for event in seen] == first
    assert [event.json()["id"] for event in resumed] == later
    assert [event for event in events.seen if event.kind == "change"] == resumed


def test_a_stream_from_a_list_s_position_starts_with_what_came_after(feed: TestClient) -> None:
    before = create_hero(feed, "Listed")
    listed = feed.get("/heroes/")
    after = create_hero(feed, "Not listed")

    with following(feed, since=listed.headers["changes-position"]) as events:
        first = events.next_of("change")

    assert [hero["id"] for hero in listed.json()] == [before]
    assert first.json()["id"] == after
    assert first.json()["op"] == "create"


def test_a_quiet_stream_sends_heartbeat_comments(feed: TestClient) -> None:
    with following(feed) as events:
        events.next_of("bookmark")
        quiet = [events.next() for _ in range(3)]

    assert [event.kind for event in quiet] == ["comment"] * 3


def test_a_filtered_follower_is_moved_past_what_it_does_not_see_by_bookmarks(
    feed: TestClient,
) -> None:
    with following(feed, resource="teams") as events:
        events.next_of("bookmark")
        for n in range(3):
            create_hero(feed, f"Unseen {n}")
        bookmark = events.next_of("bookmark", "change")
        after_heroes = json_feed(feed)["position"]
        team = feed.post("/teams/", json={"name": "Seen", "headquarters": "Here"}).json()
        change = events.next_of("change")
    create_hero(feed, "Unseen 4")
    team_changed = feed.patch(f"/teams/{team['id']}", json={"headquarters": "There"})

    with following(feed, {"Last-Event-ID": change.id or ""}, resource="teams") as events:
        resumed = events.next_of("change")

    assert bookmark.kind == "bookmark"
    assert bookmark.id == after_heroes  # where the feed stood after the heroes' changes
    assert bookmark.json() == {"position": bookmark.id}
    assert change.json()["resource"] == "teams"
    assert change.json()["data"]["name"] == "Seen"
    assert team_changed.status_code == 200
    assert (resumed.json()["op"], resumed.json()["version"]) == ("update", 2)


def test_a_follower_of_one_row_sees_that_row_only(feed: TestClient) -> None:
    other = create_hero(feed, "Other")
    followed = create_hero(feed, "Followed")

    with following(feed, id=followed) as events:
        for age in (1, 2):
            feed.patch(f"/heroes/{other}", json={"age": age})
            feed.patch(f"/heroes/{followed}", json={"age": age})
        seen = events.changes(2)

    assert [(event.json()["id"], event.json()["data"]["age"]) for event in seen] == [
        (followed, 1),
        (followed, 2),
    ]


def test_a_position_older_than_the_log_keeps_is_a_reset_event(
    feed: TestClient, clean_db: Engine
) -> None:
    old = json_feed(feed)["position"]
    create_hero(feed, "Purged")
    json_feed(feed)  # the change is numbered (a read of the feed waits for that)
    with clean_db.begin() as connection:  # as a purge past CHANGES_RETENTION moves it
        connection.execute(update(ChangeClock).values(horizon=ChangeClock.position))

    with following(feed, since=old) as events:
        reset = events.next()
        events.end()

    assert reset.kind == "reset"
    assert reset.id is None  # a client reconnecting by itself is told again, never resumed
    assert "list the resource again" in reset.json()["detail"]
    assert feed.get("/changes", params={"since": old}).status_code == 410


def test_a_last_event_id_the_service_did_not_make_is_a_422(feed: TestClient) -> None:
    response = feed.get("/changes", headers=EVENT_STREAM | {"Last-Event-ID": "42"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Last-Event-ID"]


def test_a_head_request_for_a_stream_gets_its_headers_and_ends(feed: TestClient) -> None:
    response = feed.head("/changes", headers=EVENT_STREAM)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.content == b""


def test_read_policy_applies_to_the_stream(service_with: ServiceWith, session: Session) -> None:
    client = service_with(read_policy="signed_in", changes_heartbeat_seconds=HEARTBEAT)
    user = make_user(session)

    refused = client.get("/changes", headers=EVENT_STREAM)
    with following(client, bearer(sign_in(client, user.username))) as events:
        start = events.next()

    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/json"
    assert start.kind == "bookmark"


def test_a_stream_ends_with_a_reconnect_when_the_readers_token_expires(
    service_with: ServiceWith, session: Session
) -> None:
    """Its token was checked as the stream opened; it does not outlive it. The client
    reconnects with a fresh token, resuming from the reconnect's id."""
    client = service_with(read_policy="signed_in", changes_heartbeat_seconds=HEARTBEAT)
    user = make_user(session)
    headers = bearer(sign_in(client, user.username))
    tokens = client.app.state.access.tokens  # type: ignore[attr-defined]  # the test's own app
    lifetime = tokens.lifetime.total_seconds()
    # The service's clock moved on: the token has TOKEN_LEFT seconds left, not its lifetime.
    ahead = timedelta(seconds=lifetime - TOKEN_LEFT)
    moved = AccessTokens(tokens.key, tokens.lifetime, clock=lambda: datetime.now(UTC) + ahead)
    object.__setattr__(client.app.state.access, "tokens", moved)  # type: ignore[attr-defined]

    opened = time.monotonic()
    with following(client, headers) as events:
        start = events.next()
        create_hero(client, "Made while the token lasts")
        change = events.next_of("change")
        last = events.next_of("reconnect")
        ended_after = time.monotonic() - opened
        events.end()

    assert start.kind == "bookmark"
    assert change.json()["data"]["name"] == "Made while the token lasts"
    assert last.id is not None
    assert last.retry is not None
    assert TOKEN_LEFT - 1 <= ended_after <= TOKEN_LEFT + 3
    refused = client.get("/changes", headers=EVENT_STREAM | headers)
    assert refused.status_code == 401  # its token has expired by now


def test_the_openapi_document_declares_the_event_stream(feed: TestClient) -> None:
    operation = feed.get("/openapi.json").json()["paths"]["/changes"]["get"]

    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/event-stream"}
    assert "Last-Event-ID" in {each["name"] for each in operation["parameters"]}
