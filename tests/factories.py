"""Small typed factories: the data a test needs, stored as the service would store it."""

from itertools import count
from typing import TypeVar

from sqlmodel import Session

from app.heroes.models import Hero, HeroCreate
from app.teams.models import Team, TeamCreate

Row = TypeVar("Row", Hero, Team)

_numbers = count(1)


def make_hero(
    session: Session,
    *,
    name: str | None = None,
    age: int | None = 30,
    secret_name: str | None = None,
    team_id: int | None = None,
) -> Hero:
    number = next(_numbers)
    data = HeroCreate(
        name=name or f"Hero {number}",
        age=age,
        secret_name=secret_name or f"Secret identity {number}",
        team_id=team_id,
    )
    hero = Hero.model_validate(data)
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
