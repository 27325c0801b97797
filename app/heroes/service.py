"""Hero use cases. Each function is one unit of work: it takes the session and ends its
transaction before returning, reads included. A request that still held a transaction
would hold a pooled connection while it queues for its next thread-pool hop; enough of
those and the pool runs dry (503s) while threads sit idle.

Writes are single statements keyed by id, so that racing requests resolve in the database:
of two DELETEs one removes the row and the other matches nothing (404), and a PATCH that
races a DELETE either updates the row or finds it gone (404), never a stale-data error.
"""

from collections.abc import Sequence

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.heroes.errors import HeroNotFound
from app.heroes.models import Hero, HeroCreate, HeroUpdate


def create_hero(session: Session, data: HeroCreate) -> Hero:
    hero = Hero.model_validate(data)
    session.add(hero)
    session.commit()  # the INSERT returns the new id; the other fields are what was sent
    return hero


def get_hero(session: Session, hero_id: int) -> Hero:
    hero = session.get(Hero, hero_id)
    session.commit()
    if hero is None:
        raise HeroNotFound()
    return hero


def list_heroes(session: Session, *, offset: int, limit: int) -> Sequence[Hero]:
    query = select(Hero).order_by(col(Hero.id)).offset(offset).limit(limit)
    heroes = session.exec(query).all()
    session.commit()
    return heroes


def update_hero(session: Session, hero_id: int, changes: HeroUpdate) -> Hero:
    values = changes.model_dump(exclude_unset=True)
    if values:
        statement = update(Hero).where(col(Hero.id) == hero_id).values(**values)
        result = session.exec(statement)
        if result.rowcount == 0:
            raise HeroNotFound()
    # Read back inside the same transaction: the row lock (or SQLite's write lock) is held.
    hero = session.get(Hero, hero_id, populate_existing=True)
    if hero is None:
        raise HeroNotFound()
    session.commit()
    return hero


def delete_hero(session: Session, hero_id: int) -> None:
    result = session.exec(delete(Hero).where(col(Hero.id) == hero_id))
    if result.rowcount == 0:
        raise HeroNotFound()
    session.commit()
