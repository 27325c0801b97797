"""A round of numbering against a round that holds the clock: rounds take turns, none
numbers a change twice, and every position it gives is above the clock it waited for.
On PostgreSQL a round is one statement (app/kit/changes/sequencer.py), elsewhere three.

The other round is played by hand on a connection of the test's own: it takes the clock's
row lock, numbers one of the changes as a round would, and commits when the test says."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, insert, select, update

from app.db import Database
from app.db.tables import column
from app.kit.changes.models import ChangeClock, ChangeRecord
from app.kit.changes.sequencer import number_changes
from tests.statements import settle_changes

WAIT = 0.5  # seconds a round is given to show it waits


def record(connection: Connection, row_id: int) -> int:
    """A hero's creation, recorded unnumbered as a write records it; its seq."""
    change = insert(ChangeRecord).values(
        resource="heroes", row_id=row_id, version=1, op="create", data="{}", changed="[]",
        changed_at=datetime.now(UTC),
    )  # fmt: skip
    key = connection.execute(change).inserted_primary_key
    assert key is not None
    return int(key[0])


def unnumbered_changes(engine: Engine, count: int) -> list[int]:
    """`count` committed changes that no round has numbered yet; their seqs."""
    with engine.begin() as connection:
        return [record(connection, row_id) for row_id in range(1, count + 1)]


@contextmanager
def clock_held(engine: Engine, moved_to: int) -> Iterator[Connection]:
    """The clock's lock, held until the block ends and then committed, with the clock
    moved to `moved_to` as a round that numbered changes up to there would leave it."""
    with engine.begin() as connection:
        connection.execute(update(ChangeClock).values(position=moved_to))
        yield connection


def positions(engine: Engine) -> dict[int, int | None]:
    """Each change's position by its seq (None: not numbered)."""
    with engine.connect() as connection:
        seqs = select(column(ChangeRecord.seq), column(ChangeRecord.position))
        rows = connection.execute(seqs).all()
    return {int(row[0]): None if row[1] is None else int(row[1]) for row in rows}


def clock(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(column(ChangeClock.position))).scalar_one())


def database_of(client: TestClient) -> Database:
    database: Database = client.app.state.database  # type: ignore[attr-defined]
    return database


def test_a_round_waits_for_the_clock_and_numbers_above_it_what_the_other_left(
    client: TestClient, clean_db: Engine
) -> None:
    settle_changes(client)
    first, *others = unnumbered_changes(clean_db, 3)
    assert client.portal is not None

    with clock_held(clean_db, moved_to=40) as other_round:
        # The other round numbers the first change, at a position below its clock.
        other_round.execute(
            update(ChangeRecord).where(column(ChangeRecord.seq) == first).values(position=40)
        )
        waiting = client.portal.start_task_soon(number_changes, database_of(client))
        time.sleep(WAIT)
        assert not waiting.done()  # it waits for the clock's lock

    assert waiting.result(timeout=10) == len(others)  # the first is not numbered again
    numbered = positions(clean_db)
    assert numbered[first] == 40
    given = [position for seq in others if (position := numbered[seq]) is not None]
    assert len(given) == len(others)
    assert all(position > 40 for position in given)
    assert given == sorted(given)  # in seq order
    assert clock(clean_db) == max(given)


def test_a_round_with_nothing_to_number_takes_no_lock_and_moves_nothing(
    client: TestClient, clean_db: Engine
) -> None:
    settle_changes(client)
    assert client.portal is not None

    with clock_held(clean_db, moved_to=7):
        waiting = client.portal.start_task_soon(number_changes, database_of(client))
        assert waiting.result(timeout=WAIT * 4) == 0  # done while the clock is held

    assert clock(clean_db) == 7


def test_changes_committed_as_the_clock_is_let_go_are_numbered_above_it(
    client: TestClient, clean_db: Engine
) -> None:
    """They commit after the waiting round began (on PostgreSQL, after its statement's
    snapshot): that round or the next numbers them, above the clock it waited for."""
    settle_changes(client)
    assert client.portal is not None
    database = database_of(client)

    with clock_held(clean_db, moved_to=10) as other_round:
        waiting = client.portal.start_task_soon(number_changes, database)
        time.sleep(WAIT)
        late = [record(other_round, row_id) for row_id in (1, 2)]
    waiting.result(timeout=10)
    client.portal.call(number_changes, database)

    numbered = positions(clean_db)
    given = [numbered[seq] for seq in late]
    assert all(position is not None and position > 10 for position in given)
    assert len(set(numbered.values())) == len(numbered)  # none given twice
