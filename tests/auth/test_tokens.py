"""Access tokens: HS256 only, every claim required, expiry by a clock tests move; and what
the API answers for each kind of bad token, on every backend."""

import base64
import json
import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.auth.errors import TokenRefused
from app.auth.tokens import AccessTokens
from app.config import DEVELOPMENT_JWT_SECRET
from tests.conftest import ServiceWith
from tests.factories import bearer, make_user, sign_in

KEY = "k" * 32
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def tokens_at(moment: datetime, key: str = KEY) -> AccessTokens:
    return AccessTokens(key, timedelta(minutes=15), clock=lambda: moment)


def segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(user_id: int = 7, moment: datetime = NOW) -> dict[str, object]:
    issued = int(moment.timestamp())
    return {"sub": str(user_id), "iat": issued, "exp": issued + 900, "jti": "j"}


def test_a_token_names_its_user_until_it_expires() -> None:
    token = tokens_at(NOW).issue(7)

    assert tokens_at(NOW + timedelta(minutes=14, seconds=59)).user_of(token) == 7
    with pytest.raises(TokenRefused):
        tokens_at(NOW + timedelta(minutes=15)).user_of(token)


def test_a_token_carries_sub_exp_iat_and_jti_and_is_hs256() -> None:
    token = tokens_at(NOW).issue(7)

    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert set(payload) == {"sub", "exp", "iat", "jti"}
    assert payload["exp"] - payload["iat"] == 900
    assert tokens_at(NOW).issue(7) != token  # each has its own jti


def forged_tokens() -> dict[str, str]:
    good = tokens_at(NOW).issue(7)
    header, payload, signature = good.split(".")
    tampered_payload = segment(claims(user_id=8))
    return {
        "tampered": f"{header}.{tampered_payload}.{signature}",
        "bad signature": f"{header}.{payload}.{signature[:-2]}AA",
        "foreign key": jwt.encode(claims(), "another key of thirty-two characters!"),
        "alg none": f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims())}.",
        "alg HS512": hs512(claims()),
        "no exp": jwt.encode({"sub": "7", "iat": 1, "jti": "j"}, KEY),
        "no jti": jwt.encode({"sub": "7", "iat": 1, "exp": 2**40}, KEY),
        "sub not an id": jwt.encode(claims() | {"sub": "alice"}, KEY),
        "sub a number": jwt.encode(claims() | {"sub": 7}, KEY),
        "not a jwt": "not-a-jwt",
        "too long": good + "A" * 2000,
    }


def hs512(payload: dict[str, object]) -> str:
    """Signed with the right key, by another algorithm than the one the service pins."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(payload, KEY, algorithm="HS512")


@pytest.mark.parametrize("kind", sorted(forged_tokens()))
def test_a_forged_or_malformed_token_is_refused(kind: str) -> None:
    with pytest.raises(TokenRefused):
        tokens_at(NOW).user_of(forged_tokens()[kind])


def api_tokens(moment: datetime) -> AccessTokens:
    return tokens_at(moment, DEVELOPMENT_JWT_SECRET)


def test_the_api_refuses_each_bad_token_with_invalid_token(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(read_policy="signed_in")
    user = make_user(session)
    assert user.id is not None
    now = datetime.now(UTC)
    refused = {
        "expired": api_tokens(now - timedelta(minutes=16)).issue(user.id),
        "foreign key": tokens_at(now).issue(user.id),
        "alg none": f"{segment({'alg': 'none'})}.{segment(claims(user.id, now))}.",
        "unknown user": api_tokens(now).issue(user.id + 1000),
        "tampered": tampered(api_tokens(now).issue(user.id), user.id + 1),
    }

    for kind, token in refused.items():
        response = client.get("/heroes/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, kind
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"', kind
        assert response.json() == {"detail": "Invalid or expired token"}, kind
    good = api_tokens(now).issue(user.id)
    assert client.get("/heroes/", headers={"Authorization": f"Bearer {good}"}).status_code == 200


def tampered(token: str, user_id: int) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{segment(claims(user_id, datetime.now(UTC)))}.{signature}"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc"])
def test_an_authorization_header_that_is_not_a_bearer_token_is_refused(
    service_with: ServiceWith, header: str
) -> None:
    client = service_with(read_policy="signed_in")

    response = client.get("/heroes/", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_deactivated_or_deleted_users_token_stops_working_at_once(
    service_with: ServiceWith, session: Session
) -> None:
    client = service_with(write_policy="signed_in")
    alice, bob = make_user(session, "alice"), make_user(session, "bob")
    make_user(session, "root", is_admin=True)
    as_alice, as_bob = bearer(sign_in(client, "alice")), bearer(sign_in(client, "bob"))
    as_admin = bearer(sign_in(client, "root"))
    new_hero = {"name": "A", "secret_name": "a"}
    assert client.post("/heroes/", json=new_hero, headers=as_alice).status_code == 200

    client.patch(f"/users/{alice.id}", json={"is_active": False}, headers=as_admin)
    client.delete(f"/users/{bob.id}", headers=as_admin)

    for headers in (as_alice, as_bob):
        response = client.post("/heroes/", json=new_hero, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_the_clock_of_the_running_service_decides_expiry(
    client: TestClient, session: Session
) -> None:
    """The service's own tokens expire after ACCESS_TOKEN_MINUTES, by its clock (moved)."""
    make_user(session, "alice")
    headers = bearer(sign_in(client, "alice"))
    access = client.app.state.access  # type: ignore[attr-defined]  # the test's own app
    later = datetime.now(UTC) + timedelta(minutes=15, seconds=1)
    moved = AccessTokens(access.tokens.key, access.tokens.lifetime, clock=lambda: later)
    original = access.tokens
    object.__setattr__(access, "tokens", moved)
    try:
        response = client.post("/heroes/", json={"name": "A", "secret_name": "a"}, headers=headers)
    finally:
        object.__setattr__(access, "tokens", original)

    assert response.status_code == 401


def test_a_remembered_token_still_expires_and_a_refused_one_is_not_remembered() -> None:
    now = [NOW]
    tokens = AccessTokens(KEY, timedelta(minutes=15), clock=lambda: now[0])
    token = tokens.issue(7)
    forged = forged_tokens()["tampered"]

    assert tokens.user_of(token) == 7
    assert tokens.user_of(token) == 7  # remembered
    with pytest.raises(TokenRefused):
        tokens.user_of(forged)
    now[0] = NOW + timedelta(minutes=15)

    with pytest.raises(TokenRefused):
        tokens.user_of(token)
    assert list(tokens.verified) == [token]
