"""Hero use cases. Each function is one unit of work: it takes the session and ends its
transaction before it returns or raises, reads included, on the thread it runs on. A
request that still held a transaction would hold a pooled connection while it waits for
the event loop or its next thread-pool hop; enough of those and the pool runs dry (503s),
and a rollback left to the session's close would block the event loop.

Writes are single statements keyed by id, so that racing requests resolve in the database:
of two DELETEs one removes the row and the other matches nothing (404), and a PATCH that
races a DELETE either updates the row or finds it gone (404), never a stale-data error.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.heroes.errors import HeroNotFound
from app.heroes.models import Hero, HeroCreate, HeroUpdate


@contextmanager
def _unit_of_work(session: Session) -> Iterator[None]:
    """Commit what the block did, or roll it back if it raised."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


def create_hero(session: Session, data: HeroCreate) -> Hero:
    hero = Hero.model_validate(data)
    with _unit_of_work(session):
        session.add(hero)  # the INSERT returns the new id; the other fields are what was sent
    return hero


def get_hero(session: Session, hero_id: int) -> Hero:
    with _unit_of_work(session):
        hero = session.get(Hero, hero_id)
    if hero is None:
        raise HeroNotFound()
    return hero


def list_heroes(session: Session, *, offset: int, limit: int) -> Sequence[Hero]:
    query = select(Hero).order_by(col(Hero.id)).offset(offset).limit(limit)
    with _unit_of_work(session):
        return session.exec(query).all()


def update_hero(session: Session, hero_id: int, changes: HeroUpdate) -> Hero:
    values = changes.model_dump(exclude_unset=True)
    with _unit_of_work(session):
        if values:
            statement = update(Hero).where(col(Hero.id) == hero_id).values(**values)
            if session.exec(statement).rowcount == 0:
                raise HeroNotFound()
        # Read back in the same transaction: the row lock (SQLite's write lock) is held.
        hero = session.get(Hero, hero_id, populate_existing=True)
        if hero is None:
            raise HeroNotFound()
    return hero


def delete_hero(session: Session, hero_id: int) -> None:
    with _unit_of_work(session):
        if session.exec(delete(Hero).where(col(Hero.id) == hero_id)).rowcount == 0:
            raise HeroNotFound()
