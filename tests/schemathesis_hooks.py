"""Schemathesis's hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Each request that sends a valid Idempotency-Key sends a key of its own: Schemathesis sends
the schema's example key, or the same short generated one, with many different requests,
and the service rightly refuses a key sent with another request (422) or replays the first
answer. tests/heroes/test_idempotency.py tests those; here each request stands alone.
Invalid keys are left as they are, so that their 400 is still checked.

A valid `wait` on the change feed is cut to a tenth of a second: a long poll with nothing
to see answers when its time is up, up to 30 s later, past the run's request timeout.
tests/changes/test_feed.py tests long polls.
"""

import re
import uuid
from typing import Any

import schemathesis

from app.changes.router import WAIT_MAX
from app.kit.idempotency.keys import KEY_PATTERN
from app.kit.idempotency.models import KEY_MAX_LENGTH

_VALID = re.compile(KEY_PATTERN)


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    del context, kwargs
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and len(key) <= KEY_MAX_LENGTH and _VALID.match(key):
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    wait = (case.query or {}).get("wait")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 < wait <= WAIT_MAX:
        case.query["wait"] = min(wait, 0.1)
