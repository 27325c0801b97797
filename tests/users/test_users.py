"""The user routes on every backend: sign-up, your own account, the admins' routes."""

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.observability.logs import JsonFormatter
from app.users.models import User
from tests.conftest import ServiceWith
from tests.factories import PASSWORD, bearer, make_user, sign_in

USER_KEYS = {"id", "username", "is_admin"}


def sign_up(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, object]:
    response = client.post("/users/", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def stored_user(session: Session, user_id: object) -> User | None:
    session.rollback()
    session.expunge_all()
    return session.get(User, user_id)


def test_sign_up_answers_the_public_user_and_stores_only_a_hash(
    client: TestClient, session: Session
) -> None:
    body = sign_up(client, "Deadpond")

    assert set(body) == USER_KEYS
    assert body["username"] == "Deadpond"
    assert body["is_admin"] is False
    stored = stored_user(session, body["id"])
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert sign_in(client, "deadpond")["token_type"] == "bearer"


def test_a_username_taken_in_any_case_is_409_decided_by_the_constraint(
    client: TestClient, session: Session
) -> None:
    sign_up(client, "Deadpond")

    response = client.post("/users/", json={"username": "DEADPOND", "password": PASSWORD})

    assert response.status_code == 409
    assert response.json() == {"detail": "That username is taken"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "password": PASSWORD}, "username"),
        ({"username": "a" * 65, "password": PASSWORD}, "username"),
        ({"username": "has space", "password": PASSWORD}, "username"),
        ({"username": "ok_name", "password": "short"}, "password"),
        ({"username": "ok_name", "password": "x" * 1025}, "password"),
        ({"username": "ok_name"}, "password"),
    ],
)
def test_a_bad_username_or_password_is_422(
    client: TestClient, body: dict[str, str], field: str
) -> None:
    response = client.post("/users/", json=body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_closed_sign_up_lets_only_an_admin_create_users(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(signup="closed")
    make_user(session, "alice")
    make_user(session, "root", is_admin=True)
    new = {"username": "newcomer", "password": PASSWORD}

    anonymous = client.post("/users/", json=new)
    as_alice = client.post("/users/", json=new, headers=bearer(sign_in(client, "alice")))
    as_admin = client.post("/users/", json=new, headers=bearer(sign_in(client, "root")))

    assert anonymous.status_code == 403
    assert anonymous.json() == {"detail": "Sign-up is closed: only an admin creates users"}
    assert as_alice.status_code == 403
    assert as_admin.status_code == 200


def test_me_needs_a_token_and_answers_the_user(client: TestClient, session: Session) -> None:
    user = make_user(session, "alice")

    assert client.get("/users/me").status_code == 401
    me = client.get("/users/me", headers=bearer(sign_in(client, "alice")))
    assert me.json() == {"id": user.id, "username": "alice", "is_admin": False}


def test_a_new_password_needs_the_current_one_and_signs_every_session_out(
    client: TestClient, session: Session
) -> None:
    make_user(session, "alice")
    pair, other = sign_in(client, "alice"), sign_in(client, "alice")
    headers = bearer(pair)

    wrong = client.patch(
        "/users/me", json={"password": "new password", "current_password": "nope"}, headers=headers
    )
    missing = client.patch("/users/me", json={"password": "new password"}, headers=headers)
    changed = client.patch(
        "/users/me",
        json={"password": "new password", "current_password": PASSWORD},
        headers=headers,
    )

    assert wrong.status_code == 403
    assert wrong.json() == {"detail": "The current password is wrong"}
    assert missing.status_code == 403
    assert changed.status_code == 200
    for token in (pair, other):
        refused = client.post("/auth/refresh", json={"refresh_token": token["refresh_token"]})
        assert refused.status_code == 401
    assert sign_in(client, "alice", "new password")["token_type"] == "bearer"
    old = client.post("/auth/token", data={"username": "alice", "password": PASSWORD})
    assert old.status_code == 401


def test_a_new_username_is_checked_by_the_same_constraint(
    client: TestClient, session: Session
) -> None:
    make_user(session, "alice")
    make_user(session, "bob")
    headers = bearer(sign_in(client, "alice"))

    taken = client.patch("/users/me", json={"username": "Bob"}, headers=headers)
    renamed = client.patch("/users/me", json={"username": "Alicia"}, headers=headers)

    assert taken.status_code == 409
    assert renamed.json()["username"] == "Alicia"


def test_admin_routes_are_403_for_users_and_401_without_a_token(
    client: TestClient, session: Session
) -> None:
    bob = make_user(session, "bob")
    headers = bearer(sign_in(client, "bob"))

    for method, url, body in (
        ("GET", "/users/", None),
        ("PATCH", f"/users/{bob.id}", {"is_admin": True}),
        ("DELETE", f"/users/{bob.id}", None),
    ):
        assert client.request(method, url, json=body).status_code == 401
        refused = client.request(method, url, json=body, headers=headers)
        assert refused.status_code == 403
        assert refused.json() == {"detail": "Only an admin may do this"}
    assert stored_user(session, bob.id) is not None


def test_admins_page_through_users_and_promote_and_delete_them(
    client: TestClient, session: Session
) -> None:
    root = make_user(session, "root", is_admin=True)
    users = [make_user(session, f"user{number}") for number in range(3)]
    headers = bearer(sign_in(client, "root"))

    first = client.get("/users/?limit=2", headers=headers)
    second = client.get(first.links["next"]["url"], headers=headers)
    promoted = client.patch(f"/users/{users[0].id}", json={"is_admin": True}, headers=headers)
    deleted = client.delete(f"/users/{users[1].id}", headers=headers)

    assert [user["username"] for user in first.json()] == ["root", "user0"]
    assert [user["username"] for user in second.json()] == ["user1", "user2"]
    assert all(set(user) == USER_KEYS for user in first.json())
    assert promoted.json() == {"id": users[0].id, "username": "user0", "is_admin": True}
    assert deleted.json() == {"ok": True}
    assert client.delete(f"/users/{users[1].id}", headers=headers).status_code == 404
    assert client.patch("/users/999999", json={"is_active": False}, headers=headers).json() == {
        "detail": "User not found"
    }
    assert root.id is not None


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every line the service logs meanwhile, at every level, as it would be written."""
    lines: list[str] = []
    handler = logging.Handler()
    formatter = JsonFormatter()
    handler.emit = lambda record: lines.append(formatter.format(record))  # type: ignore[method-assign]
    logger = logging.getLogger("app")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_no_answer_and_no_log_line_carries_a_password_hash_or_token(
    service_with: ServiceWith, session: Session, log_lines: list[str]
) -> None:
    client = service_with(write_policy="owner")
    password = "a very secret password"
    signed_up = client.post("/users/", json={"username": "alice", "password": password})
    issued = client.post("/auth/token", data={"username": "alice", "password": password})
    pair = issued.json()
    headers = bearer(pair)
    answers = [
        signed_up,
        client.post("/auth/token", data={"username": "alice", "password": "wrong password"}),
        client.post("/heroes/", json={"name": "A", "secret_name": "s"}, headers=headers),
        client.get("/users/me", headers=headers),
        client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        client.patch(
            "/users/me",
            json={"password": "another secret", "current_password": password},
            headers=headers,
        ),
        client.get("/heroes/", headers={"Authorization": "Bearer forged.token.here"}),
    ]
    stored = stored_user(session, signed_up.json()["id"])
    assert stored is not None

    # Only the sign-in's own answer carries the tokens it issues.
    secrets = [password, "wrong password", "another secret", pair["refresh_token"]]
    secrets += [pair["access_token"], stored.password_hash, "$argon2", "forged.token.here"]
    texts = [answer.text for answer in answers] + log_lines
    assert len(log_lines) > len(answers)
    for secret in secrets:
        assert not [text for text in texts if secret in text], secret
