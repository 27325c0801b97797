"""Changes recorded straight into the log and numbered at once, as a sequencer's round
would (positions taken from the clock in the same transaction): many of them, or large
ones, faster than writes through the API could make them."""

import json
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update

from app.db.tables import column
from app.kit.changes.models import ChangeClock, ChangeRecord

FIRST_ROW_ID = 1_000_000


def record_changes(engine: Engine, count: int, name_length: int = 8) -> None:
    """`count` hero creations (rows FIRST_ROW_ID on), each with a name `name_length` long."""
    now = datetime.now(UTC)
    data = json.dumps({"id": 0, "name": "x" * name_length, "age": None, "team_id": None})
    with engine.begin() as connection:
        # The clock's lock first, as a sequencer's round takes it: positions it gives
        # cannot meet these.
        connection.execute(update(ChangeClock).values(position=ChangeClock.position + count))
        end: int = connection.execute(select(column(ChangeClock.position))).scalar_one()
        start = end - count
        rows = [
            {"position": start + n, "resource": "heroes", "row_id": FIRST_ROW_ID + n,
             "version": 1, "op": "create", "data": data, "changed": "[]", "changed_at": now}
            for n in range(1, count + 1)
        ]  # fmt: skip
        connection.execute(insert(ChangeRecord), rows)
