"""Small typed factories: the data a test needs, stored as the service would store it."""

from itertools import count

from sqlmodel import Session

from app.heroes.models import Hero, HeroCreate

_numbers = count(1)


def make_hero(
    session: Session,
    *,
    name: str | None = None,
    age: int | None = 30,
    secret_name: str | None = None,
) -> Hero:
    number = next(_numbers)
    data = HeroCreate(
        name=name or f"Hero {number}",
        age=age,
        secret_name=secret_name or f"Secret identity {number}",
    )
    hero = Hero.model_validate(data)
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
