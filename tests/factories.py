"""Small typed factories: the data a test needs, stored as the service would store it."""

from itertools import count
from typing import TypeVar

from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import Session

from app.heroes.models import Hero, HeroCreate
from app.teams.models import Team, TeamCreate
from app.users.models import User, username_key

Row = TypeVar("Row", Hero, Team)
PASSWORD = "correct horse battery staple"
_hasher = PasswordHash((Argon2Hasher(),))

_numbers = count(1)


def make_hero(
    session: Session,
    *,
    name: str | None = None,
    age: int | None = 30,
    secret_name: str | None = None,
    team_id: int | None = None,
    owner_id: int | None = None,
) -> Hero:
    number = next(_numbers)
    data = HeroCreate(
        name=name or f"Hero {number}",
        age=age,
        secret_name=secret_name or f"Secret identity {number}",
        team_id=team_id,
    )
    hero = Hero.model_validate(data, update={"owner_id": owner_id})
    return _stored(session, hero)


def make_team(
    session: Session, *, name: str | None = None, headquarters: str | None = None
) -> Team:
    number = next(_numbers)
    data = TeamCreate(
        name=name or f"Team {number}", headquarters=headquarters or f"Tower {number}"
    )
    return _stored(session, Team.model_validate(data))


def _stored(session: Session, row: Row) -> Row:
    session.add(row)
    session.commit()
    session.refresh(row)
    session.expunge(row)  # a plain record of what was stored, untouched by later reads
    return row


def read_stored(session: Session, hero_id: int | None) -> Hero | None:
    """The hero as the database holds it now, not as this session remembers it."""
    assert hero_id is not None, "a stored hero has an id"
    session.rollback()  # a new transaction: REPEATABLE READ would show an old snapshot
    session.expunge_all()
    return session.get(Hero, hero_id)


def read_team(session: Session, team_id: int | None) -> Team | None:
    """The team as the database holds it now, a plain record that later reads leave alone."""
    assert team_id is not None, "a stored team has an id"
    session.rollback()
    session.expunge_all()
    team = session.get(Team, team_id)
    if team is not None:
        session.expunge(team)
    return team


def stored_id(row: Hero | Team) -> int:
    assert row.id is not None, "a stored row has an id"
    return row.id


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
