"""Signing in, refreshing and signing out, on every backend: the OAuth2 password flow,
rotating refresh tokens, reuse detection, throttled failures, and equal time for unknown
users and wrong passwords."""

import logging
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx2 as httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from app.auth.models import RefreshToken
from app.auth.tokens import AccessTokens
from tests.conftest import ServiceWith, skip_or_fail
from tests.factories import PASSWORD, bearer, make_user, sign_in
from tests.ops.processes import REDIS_TEST_URL
from tests.racing import race

WRONG = {"detail": "Incorrect username or password"}


def refresh(client: TestClient, token: str) -> dict[str, str]:
    response = client.post("/auth/refresh", json={"refresh_token": token})
    body: dict[str, str] = response.json()
    return {"status": str(response.status_code)} | body


def stored_tokens(session: Session) -> int:
    session.rollback()
    count: int = session.execute(select(func.count()).select_from(RefreshToken)).scalar_one()
    return count


def test_sign_in_answers_a_bearer_pair_that_no_cache_keeps(
    client: TestClient, session: Session
) -> None:
    make_user(session, "Alice")

    response = client.post("/auth/token", data={"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    pair = response.json()
    assert set(pair) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 15 * 60
    assert client.get("/users/me", headers=bearer(pair)).json()["username"] == "Alice"
    assert stored_tokens(session) == 1


def test_a_wrong_password_an_unknown_user_and_a_deactivated_one_get_the_same_401(
    client: TestClient, session: Session
) -> None:
    make_user(session, "alice")
    make_user(session, "gone", is_active=False)

    answers = [
        client.post("/auth/token", data={"username": name, "password": password})
        for name, password in (
            ("alice", "wrong password"),
            ("nobody", PASSWORD),
            ("gone", PASSWORD),
        )
    ]

    for response in answers:
        assert response.status_code == 401
        assert response.json() == WRONG
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_sign_in_form_without_a_password_is_422(client: TestClient) -> None:
    response = client.post("/auth/token", data={"username": "alice"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "password"]


def test_an_unknown_user_takes_as_long_as_a_wrong_password(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(sign_in_attempts=100)
    make_user(session, "alice")
    timings: dict[str, list[float]] = {"alice": [], "nobody": []}
    for _ in range(7):
        for name, taken in timings.items():  # alternating: the machine's load falls on both
            started = time.perf_counter()
            response = client.post("/auth/token", data={"username": name, "password": "wrong!!!"})
            taken.append(time.perf_counter() - started)
            assert response.status_code == 401

    wrong, unknown = (statistics.median(timings[name]) for name in ("alice", "nobody"))
    assert abs(unknown - wrong) <= 0.2 * wrong, timings


def test_failed_sign_ins_are_throttled_per_account_and_client(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(sign_in_attempts=3, sign_in_window_minutes=15)
    make_user(session, "alice")
    make_user(session, "bob")
    for _ in range(3):
        failed = client.post("/auth/token", data={"username": "alice", "password": "wrong!!!"})
        assert failed.status_code == 401

    throttled = client.post("/auth/token", data={"username": "ALICE", "password": PASSWORD})

    assert throttled.status_code == 429
    assert throttled.json() == {"detail": "Too many failed sign-ins, try again later"}
    assert 1 <= int(throttled.headers["retry-after"]) <= 15 * 60
    assert sign_in(client, "bob")["token_type"] == "bearer"  # another account: not throttled


def test_a_good_sign_in_is_never_counted_against_the_account(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(sign_in_attempts=2)
    make_user(session, "alice")

    for _ in range(3):
        sign_in(client, "alice")


def test_refresh_rotates_the_pair_and_uses_the_token_up(
    client: TestClient, session: Session
) -> None:
    make_user(session, "alice")
    first = sign_in(client, "alice")

    second = refresh(client, first["refresh_token"])

    assert second["status"] == "200"
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/users/me", headers=bearer(second)).status_code == 200
    third = refresh(client, second["refresh_token"])
    assert third["status"] == "200"
    assert stored_tokens(session) == 3  # used ones are kept, to recognise their reuse


def test_a_used_refresh_token_sent_again_revokes_its_whole_family(
    client: TestClient, session: Session
) -> None:
    make_user(session, "alice")
    stolen = sign_in(client, "alice")
    other_sign_in = sign_in(client, "alice")
    rotated = refresh(client, stolen["refresh_token"])

    replayed = refresh(client, stolen["refresh_token"])

    assert replayed == {"status": "401", "detail": "Invalid or expired refresh token"}
    assert refresh(client, rotated["refresh_token"])["status"] == "401"
    assert refresh(client, other_sign_in["refresh_token"])["status"] == "200"


def test_two_refreshes_racing_with_one_token_never_both_win(
    client: TestClient, session: Session
) -> None:
    make_user(session, "alice")
    for _ in range(3):
        token = sign_in(client, "alice")["refresh_token"]
        answers = race([partial(refresh_response, client, token) for _ in range(2)])
        codes = sorted(answer.status_code for answer in answers)
        assert codes in ([200, 401], [401, 401]), [answer.text for answer in answers]


def refresh_response(client: TestClient, token: str) -> httpx.Response:
    return client.post("/auth/refresh", json={"refresh_token": token})


def test_an_expired_refresh_token_is_refused(client: TestClient, session: Session) -> None:
    make_user(session, "alice")
    pair = sign_in(client, "alice")
    access = client.app.state.access  # type: ignore[attr-defined]  # the test's own app
    later = datetime.now(UTC) + timedelta(days=30, seconds=1)
    original = access.tokens
    moved = AccessTokens(original.key, original.lifetime, clock=lambda: later)
    object.__setattr__(access, "tokens", moved)
    try:
        answer = refresh(client, pair["refresh_token"])
    finally:
        object.__setattr__(access, "tokens", original)

    assert answer["status"] == "401"


def test_an_unknown_or_malformed_refresh_token_is_refused(client: TestClient) -> None:
    assert refresh(client, "never issued")["status"] == "401"
    too_long = client.post("/auth/refresh", json={"refresh_token": "x" * 201})
    assert too_long.status_code == 422
    assert client.post("/auth/refresh", json={}).status_code == 422


def test_logout_revokes_the_sign_in_and_nothing_else(client: TestClient, session: Session) -> None:
    make_user(session, "alice")
    pair, other = sign_in(client, "alice"), sign_in(client, "alice")
    rotated = refresh(client, pair["refresh_token"])

    response = client.post("/auth/logout", json={"refresh_token": rotated["refresh_token"]})

    assert response.status_code == 204
    assert refresh(client, rotated["refresh_token"])["status"] == "401"
    assert refresh(client, other["refresh_token"])["status"] == "200"
    again = client.post("/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    assert again.status_code == 204


def test_a_deactivated_users_refresh_token_is_refused(
    client: TestClient, session: Session
) -> None:
    alice = make_user(session, "alice")
    make_user(session, "root", is_admin=True)
    pair = sign_in(client, "alice")
    as_admin = bearer(sign_in(client, "root"))

    client.patch(f"/users/{alice.id}", json={"is_active": False}, headers=as_admin)

    assert refresh(client, pair["refresh_token"])["status"] == "401"
    assert (
        client.post("/auth/token", data={"username": "alice", "password": PASSWORD}).json()
        == WRONG
    )


@pytest.fixture
def shared_redis() -> str:
    """The test Redis database, reachable (skipped locally, failing in CI, if not)."""
    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=1).ping()
    except redis.RedisError as error:
        skip_or_fail(f"cannot reach Redis at {REDIS_TEST_URL}: {error}")
    return REDIS_TEST_URL


def test_with_redis_every_worker_counts_the_same_failed_sign_ins(
    service_with: ServiceWith, session: Session, shared_redis: str
) -> None:
    prefix = f"heroes-test-{uuid.uuid4().hex}:"  # this test's own windows
    shared = {"redis_url": shared_redis, "redis_key_prefix": prefix, "sign_in_attempts": 2}
    first, second = service_with(**shared), service_with(**shared)
    make_user(session, "alice")
    wrong = {"username": "alice", "password": "wrong password"}

    assert first.post("/auth/token", data=wrong).status_code == 401
    assert second.post("/auth/token", data=wrong).status_code == 401

    assert first.post("/auth/token", data=wrong).status_code == 429
    assert second.post("/auth/token", data=wrong).status_code == 429


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize(("secret", "warned"), [(None, True), ("s" * 32, False)])
def test_without_jwt_secret_development_says_so_in_one_warning_line(
    service_with: ServiceWith, secret: str | None, *, warned: bool
) -> None:
    handler = Collected()
    lines = handler.records
    logger = logging.getLogger("app")
    logger.addHandler(handler)
    try:
        service_with(environment="development", jwt_secret=secret)
    finally:
        logger.removeHandler(handler)

    warnings = [line for line in lines if "JWT_SECRET" in line.getMessage()]
    assert len(warnings) == int(warned)
    assert all(line.levelno == logging.WARNING for line in warnings)
