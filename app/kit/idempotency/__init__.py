"""Retry-safe writes: the Idempotency-Key header (issue 19; README, "Retry-safe writes").

How it is decided, on SQLite, PostgreSQL and MariaDB alike:
- In flight: a request claims its key by INSERTing the key's row on its own, committed at
  once (store.py). The unique constraint on (caller, key) lets exactly one of any number of
  racing requests, in any worker or instance, have it; the others read the row and answer
  409 with Retry-After while it holds no answer. Nobody waits on a lock: no advisory lock
  (PostgreSQL's would be per transaction, MariaDB's GET_LOCK per connection, which a pool
  hands on), no SQLite write lock held across the request.
- Stored with the write: the write runs with one more statement in its own transaction,
  the UPDATE that stores its answer on the claim, and that UPDATE must match the claim's
  attempt, or the whole write is rolled back (rows.AlsoMissed). A claim whose request
  failed (5xx, 503) is deleted; one whose worker died is taken over after its lease.
- The caller: "" (anyone holding the key) until users exist; keys.caller_of is the seam.
- The fingerprint: SHA-256 of the method, the path and the body's canonical JSON.
- Expired keys are purged by the writes that claim keys, now and then, in bounded batches
  (store.purge_now_and_then): no cron job, no timer querying an idle database.
- A write without the header runs as it did: no statement more (bench/PROFILE.md).
"""
