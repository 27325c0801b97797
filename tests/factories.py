"""Small typed factories: the data a test needs, stored as the service would store it."""

from itertools import count

from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import Session

from app.heroes.models import Hero, HeroCreate
from app.users.models import User, username_key

PASSWORD = "correct horse battery staple"
_hasher = PasswordHash((Argon2Hasher(),))

_numbers = count(1)


def make_hero(
    session: Session,
    *,
    name: str | None = None,
    age: int | None = 30,
    secret_name: str | None = None,
    owner_id: int | None = None,
) -> Hero:
    number = next(_numbers)
    data = HeroCreate(
        name=name or f"Hero {number}",
        age=age,
        secret_name=secret_name or f"Secret identity {number}",
    )
    hero = Hero.model_validate(data, update={"owner_id": owner_id})
    session.add(hero)
    session.commit()
    session.refresh(hero)
    session.expunge(hero)  # a plain record of what was stored, untouched by later reads
    return hero


def read_stored(session: Session, hero_id: int | None) -> Hero | None:
    """The hero as the database holds it now, not as this session remembers it."""
    assert hero_id is not None, "a stored hero has an id"
    session.rollback()  # a new transaction: REPEATABLE READ would show an old snapshot
    session.expunge_all()
    return session.get(Hero, hero_id)


def make_user(
    session: Session,
    username: str | None = None,
    *,
    password: str = PASSWORD,
    is_admin: bool = False,
    is_active: bool = True,
) -> User:
    """A user stored as sign-up (or the command line) stores one."""
    username = username or f"user{next(_numbers)}"
    user = User(
        username=username,
        username_key=username_key(username),
        password_hash=_hasher.hash(password),
        is_admin=is_admin,
        is_active=is_active,
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    session.expunge(user)
    return user


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """The token pair of a user who signs in; asserts that they could."""
    response = client.post("/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    pair: dict[str, str] = response.json()
    return pair


def bearer(pair: dict[str, str]) -> dict[str, str]:
    """The header that sends a pair's access token."""
    return {"Authorization": f"Bearer {pair['access_token']}"}
