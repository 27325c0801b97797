"""Idempotency-Key on POST and PATCH: a retry gets the first answer and writes nothing twice,
on every backend.

Requests that must be in flight together are held by `HeldDatabase`: the app's own
database, whose multi-statement transactions (a write with a key, and only those) wait
until the test lets them go, after the key was claimed.
"""

import asyncio
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, column, func, select, table, update
from sqlmodel import Session

from app.config import Settings
from app.db import Database, DatabaseUnavailable, Params, PoolUsage, Row
from app.db.database import Step
from app.db.statements import Statement
from app.db.tables import utc_now
from app.heroes.models import Hero
from app.kit.idempotency import store, writes
from app.kit.idempotency.models import IdempotencyKey
from app.main import create_app
from tests.factories import make_hero
from tests.racing import TIMEOUT, race

KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"
DEADPOND = {"name": "Deadpond", "secret_name": "Dive Wilson"}
REPLAYED = "idempotent-replayed"
RESULT_HEADERS = ("etag", "last-modified", "location", "cache-control")
KEYS = IdempotencyKey.__table__  # type: ignore[attr-defined]


def post(client: TestClient, body: Any, key: str = KEY, **headers: str) -> httpx.Response:
    return client.post("/heroes/", json=body, headers={"Idempotency-Key": key} | headers)


def patch(client: TestClient, hero_id: int, body: Any, key: str = KEY) -> httpx.Response:
    return client.patch(f"/heroes/{hero_id}", json=body, headers={"Idempotency-Key": key})


def count(session: Session, table: Any) -> int:
    session.rollback()  # a fresh snapshot
    total: int = session.execute(select(func.count()).select_from(table)).scalar_one()
    return total


def heroes_stored(session: Session) -> int:
    return count(session, Hero.__table__)  # type: ignore[attr-defined]


def keys_stored(session: Session) -> int:
    return count(session, KEYS)


def assert_replay_of(replay: httpx.Response, first: httpx.Response) -> None:
    assert replay.status_code == first.status_code
    assert replay.content == first.content  # byte for byte
    for name in RESULT_HEADERS:
        assert replay.headers.get(name) == first.headers.get(name), name
    assert replay.headers[REPLAYED] == "true"
    assert REPLAYED not in first.headers


class HeldDatabase(Database):
    """The app's database, its first transaction held until `released` is set; each runs
    with `appended` steps at its end, or fails with `fail_with`."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.released = threading.Event()
        self.waiting = threading.Event()
        self.fail_with: Exception | None = None
        self.appended: list[Step] = []

    async def transaction(self, steps: Sequence[Step]) -> list[Any]:
        if not self.waiting.is_set():  # the first transaction only
            self.waiting.set()
            await asyncio.to_thread(self.released.wait, TIMEOUT)
        if self.fail_with is not None:
            raise self.fail_with
        return await self.inner.transaction([*steps, *self.appended])

    async def fetch_one(self, query: Statement, params: Params) -> Row | None:
        return await self.inner.fetch_one(query, params)

    async def fetch_all(self, query: Statement, params: Params) -> list[Row]:
        return await self.inner.fetch_all(query, params)

    async def write(self, statement: Statement, params: Params) -> int:
        return await self.inner.write(statement, params)

    async def write_returning(self, statement: Statement, params: Params) -> Row | None:
        return await self.inner.write_returning(statement, params)

    async def update_returning(
        self, statement: Statement, reread: Statement, params: Params
    ) -> Row | None:
        return await self.inner.update_returning(statement, reread, params)

    def pool_usage(self) -> PoolUsage:
        return self.inner.pool_usage()

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def held(app: FastAPI, client: TestClient) -> Iterator[HeldDatabase]:
    own: Database = app.state.database
    database = HeldDatabase(own)
    app.state.database = database
    yield database
    database.released.set()
    app.state.database = own


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


# --- replay ---------------------------------------------------------------------------------


def test_a_retried_post_gets_the_first_answer_and_creates_one_hero(
    client: TestClient, session: Session
) -> None:
    first = post(client, DEADPOND)
    retry = post(client, DEADPOND)

    assert first.status_code == 200
    assert first.json() == {"name": "Deadpond", "age": None, "id": first.json()["id"]}
    assert first.headers["location"].endswith(f"/heroes/{first.json()['id']}")
    assert_replay_of(retry, first)
    assert heroes_stored(session) == 1


def test_key_order_and_white_space_in_the_body_do_not_matter(
    client: TestClient, session: Session
) -> None:
    first = post(client, DEADPOND)
    respaced = client.post(
        "/heroes/",
        content=b'{ "secret_name" : "Dive Wilson",\n  "name": "Deadpond" }',
        headers={"Idempotency-Key": KEY, "Content-Type": "application/json"},
    )

    assert_replay_of(respaced, first)
    assert heroes_stored(session) == 1


def test_without_a_key_every_post_creates_a_hero_as_before(
    client: TestClient, session: Session
) -> None:
    answers = [client.post("/heroes/", json=DEADPOND) for _ in range(2)]

    assert answers[0].json()["id"] != answers[1].json()["id"]
    assert all(REPLAYED not in answer.headers for answer in answers)
    assert (heroes_stored(session), keys_stored(session)) == (2, 0)


def test_a_retried_patch_is_replayed_with_its_etag_and_changes_nothing_again(
    client: TestClient, session: Session
) -> None:
    hero_id = make_hero(session, age=30).id
    assert hero_id is not None
    first = patch(client, hero_id, {"age": 31})
    later = client.patch(f"/heroes/{hero_id}", json={"age": 40})  # someone else, no key
    retry = patch(client, hero_id, {"age": 31})

    assert first.headers["etag"] == f'"{hero_id}.2"'
    assert_replay_of(retry, first)
    assert retry.json()["age"] == 31  # the answer it had, not the hero now
    now = client.get(f"/heroes/{hero_id}")
    assert (now.json()["age"], now.headers["etag"]) == (40, later.headers["etag"])
    assert later.headers["etag"] == f'"{hero_id}.3"'


def test_an_empty_patch_with_a_key_is_replayed_too(client: TestClient, session: Session) -> None:
    hero_id = make_hero(session).id
    assert hero_id is not None

    first = patch(client, hero_id, {})
    retry = patch(client, hero_id, {})

    assert first.status_code == 200
    assert_replay_of(retry, first)


def test_a_4xx_the_write_answered_is_stored_and_replayed(
    client: TestClient, session: Session
) -> None:
    hero_id = make_hero(session).id
    stale = {"Idempotency-Key": KEY, "If-Match": f'"{hero_id}.7"'}

    first = client.patch(f"/heroes/{hero_id}", json={"age": 1}, headers=stale)
    retry = client.patch(f"/heroes/{hero_id}", json={"age": 1}, headers=stale)
    missing = patch(client, 2**40, {"age": 1}, key="another")
    missing_again = patch(client, 2**40, {"age": 1}, key="another")

    assert first.status_code == 412
    assert_replay_of(retry, first)
    assert missing.status_code == 404
    assert_replay_of(missing_again, missing)
    assert keys_stored(session) == 2


def test_a_key_is_the_callers_whatever_its_case(client: TestClient, session: Session) -> None:
    lower = post(client, DEADPOND, key="key-a")
    upper = post(client, DEADPOND, key="KEY-A")

    assert lower.json()["id"] != upper.json()["id"]
    assert REPLAYED not in upper.headers
    assert heroes_stored(session) == 2


def test_the_quoted_form_of_the_draft_is_the_same_key(
    client: TestClient, session: Session
) -> None:
    first = post(client, DEADPOND, key="abc")
    retry = post(client, DEADPOND, key='"abc"')

    assert_replay_of(retry, first)
    assert heroes_stored(session) == 1


# --- another request with the key -----------------------------------------------------------


def test_the_same_key_with_another_body_is_422_and_writes_nothing(
    client: TestClient, session: Session
) -> None:
    first = post(client, DEADPOND)
    other = post(client, {"name": "Rusty-Man", "secret_name": "Tommy Sharp"})

    assert other.status_code == 422
    (problem,) = other.json()["detail"]
    assert problem["loc"] == ["header", "Idempotency-Key"]
    assert problem["type"] == "idempotency_key_reused"
    assert REPLAYED not in other.headers
    assert heroes_stored(session) == 1
    assert_replay_of(post(client, DEADPOND), first)  # the key still answers its own request


def test_the_same_key_on_another_path_or_method_is_422(
    client: TestClient, session: Session
) -> None:
    hero_id = post(client, {"age": 5} | DEADPOND).json()["id"]

    assert patch(client, hero_id, {"age": 5} | DEADPOND).status_code == 422
    other_hero = make_hero(session).id
    assert other_hero is not None
    assert patch(client, other_hero, {"age": 9}, key="p").status_code == 200
    assert patch(client, hero_id, {"age": 9}, key="p").status_code == 422


@pytest.mark.parametrize(
    "key",
    ["", " ", "x" * 256, "tab\there", "bell\x07", "del\x7f", "caf\xe9", '""'],
    ids=["empty", "space", "256", "tab", "bell", "del", "latin-1", "quoted-empty"],
)
def test_an_invalid_key_is_400_and_writes_nothing(
    client: TestClient, session: Session, key: str
) -> None:
    answer = client.post(
        "/heroes/", json=DEADPOND, headers=[(b"Idempotency-Key", key.encode("latin-1"))]
    )

    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "Idempotency-Key must be 1 to 255 printable ASCII characters, sent once"
    }
    assert (heroes_stored(session), keys_stored(session)) == (0, 0)


def test_a_key_sent_twice_is_400(client: TestClient, session: Session) -> None:
    headers = [(b"Idempotency-Key", b"a"), (b"Idempotency-Key", b"b")]

    assert client.post("/heroes/", json=DEADPOND, headers=headers).status_code == 400
    assert heroes_stored(session) == 0


def test_a_key_of_255_printable_characters_is_accepted(client: TestClient) -> None:
    key = ("~ !" * 100)[:254] + "k"

    assert post(client, DEADPOND, key=key).status_code == 200
    assert post(client, DEADPOND, key=key).headers[REPLAYED] == "true"


# --- in flight and racing -------------------------------------------------------------------


def test_a_key_whose_first_request_is_running_is_409_with_retry_after(
    client: TestClient, session: Session, held: HeldDatabase, pool: ThreadPoolExecutor
) -> None:
    first = pool.submit(post, client, DEADPOND)
    assert held.waiting.wait(TIMEOUT), "the first request never reached its transaction"

    retry = post(client, DEADPOND)

    assert retry.status_code == 409
    assert retry.headers["retry-after"] == "1"
    assert retry.json()["detail"].startswith("A request with this Idempotency-Key")
    held.released.set()
    answered = first.result(timeout=TIMEOUT)
    assert answered.status_code == 200
    assert_replay_of(post(client, DEADPOND), answered)
    assert heroes_stored(session) == 1


def test_sixteen_concurrent_posts_with_one_key_create_one_hero(
    client: TestClient, session: Session
) -> None:
    answers = race([lambda: post(client, DEADPOND) for _ in range(16)])

    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {200, 409}, statuses
    created = [a for a in answers if a.status_code == 200 and REPLAYED not in a.headers]
    assert len(created) == 1
    for answer in answers:
        if answer.status_code == 200:
            assert answer.content == created[0].content
        else:
            assert answer.headers["retry-after"] == "1"
    assert heroes_stored(session) == 1
    assert_replay_of(post(client, DEADPOND), created[0])


def test_a_claim_taken_over_meanwhile_rolls_the_write_back_whole(
    client: TestClient, session: Session, held: HeldDatabase, pool: ThreadPoolExecutor
) -> None:
    # As if the first request outlived its lease and a retry took its key over: its
    # stored answer's UPDATE no longer matches, so its INSERT is rolled back with it.
    first = pool.submit(post, client, DEADPOND)
    assert held.waiting.wait(TIMEOUT)
    with session.begin():
        session.execute(update(KEYS).values(attempt=KEYS.c.attempt + 1))

    held.released.set()
    answered = first.result(timeout=TIMEOUT)

    assert answered.status_code == 409
    assert heroes_stored(session) == 0


def test_a_claim_abandoned_past_its_lease_is_taken_over_and_one_hero_is_created(
    client: TestClient,
    session: Session,
    held: HeldDatabase,
    *,
    pool: ThreadPoolExecutor,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if the first request's worker had died: past its lease, a retry takes the key
    # over and runs; the first, should it wake up after all, writes nothing.
    first = pool.submit(post, client, DEADPOND)
    assert held.waiting.wait(TIMEOUT)
    later = utc_now() + timedelta(seconds=settings.idempotency_lease + 1)
    monkeypatch.setattr(writes, "clock", lambda: later)

    retry = post(client, DEADPOND)
    held.released.set()
    late = first.result(timeout=TIMEOUT)

    assert (retry.status_code, REPLAYED in retry.headers) == (200, False)
    assert late.status_code == 409  # its claim was taken: its INSERT was rolled back
    assert heroes_stored(session) == 1
    assert_replay_of(post(client, DEADPOND), retry)


# --- what is not stored ---------------------------------------------------------------------


def test_a_503_is_not_stored_and_the_retry_creates_the_hero_once(
    client: TestClient, session: Session, held: HeldDatabase
) -> None:
    held.released.set()
    held.fail_with = DatabaseUnavailable()
    failed = post(client, DEADPOND)
    held.fail_with = None

    retried = post(client, DEADPOND)
    again = post(client, DEADPOND)

    assert failed.status_code == 503
    assert (retried.status_code, REPLAYED in retried.headers) == (200, False)
    assert_replay_of(again, retried)
    assert heroes_stored(session) == 1


def test_a_rolled_back_write_leaves_no_key_and_no_hero(
    client: TestClient, session: Session, held: HeldDatabase
) -> None:
    # The write's transaction fails at a last statement of its own (a table that is not
    # there): the hero and the stored answer are rolled back, and the claim is released.
    held.released.set()
    held.appended = [Step.row(Statement(select(column("x")).select_from(table("nowhere"))), {})]
    failed = post(client, DEADPOND)
    held.appended = []

    assert failed.status_code == 503
    assert (heroes_stored(session), keys_stored(session)) == (0, 0)
    retried = post(client, DEADPOND)
    assert (retried.status_code, REPLAYED in retried.headers) == (200, False)
    assert heroes_stored(session) == 1


# --- expiry ---------------------------------------------------------------------------------


def test_an_expired_key_is_forgotten(
    client: TestClient, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = post(client, DEADPOND)
    later = utc_now() + timedelta(seconds=settings.idempotency_key_ttl + 1)
    monkeypatch.setattr(writes, "clock", lambda: later)

    other = post(client, {"name": "Rusty-Man", "secret_name": "Tommy Sharp"})

    assert other.status_code == 200  # not 422: the key was forgotten
    assert other.json()["id"] != first.json()["id"]
    assert_replay_of(post(client, {"name": "Rusty-Man", "secret_name": "Tommy Sharp"}), other)
    assert (heroes_stored(session), keys_stored(session)) == (2, 1)


def test_expired_keys_are_purged_now_and_then_in_bounded_batches(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    for number in range(store.PURGE_BATCH + 3):
        assert post(client, DEADPOND, key=f"k{number}").status_code == 200
    database: Database = app.state.database
    now, later = utc_now(), utc_now() + timedelta(days=400)

    async def purges() -> list[int]:
        return [
            await store.purge(database, now),  # none has expired yet
            await store.purge_now_and_then(database, later, chance=lambda: 0.99),  # not now
            await store.purge_now_and_then(database, later, chance=lambda: 0.0),
            await store.purge(database, later),
        ]

    assert client.portal is not None
    assert client.portal.call(purges) == [0, 0, store.PURGE_BATCH, 3]
    assert keys_stored(session) == 0


# --- settings, docs, CORS -------------------------------------------------------------------


@pytest.fixture
def strict_client(settings: Settings, clean_db: Engine) -> Iterator[TestClient]:
    strict = settings.model_copy(update={"require_idempotency_key": True})
    with TestClient(create_app(strict)) as client:
        yield client


def test_required_keys_make_a_post_without_one_400(
    strict_client: TestClient, session: Session
) -> None:
    refused = strict_client.post("/heroes/", json=DEADPOND)

    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "Idempotency-Key required: send a unique key with every POST"
    }
    assert heroes_stored(session) == 0
    assert post(strict_client, DEADPOND).status_code == 200
    hero_id = make_hero(session).id
    assert strict_client.patch(f"/heroes/{hero_id}", json={"age": 2}).status_code == 200


def test_openapi_declares_the_header_and_its_answers(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    for path, method in (("/heroes/", "post"), ("/heroes/{hero_id}", "patch")):
        operation = paths[path][method]
        names = [parameter["name"] for parameter in operation["parameters"]]
        assert "Idempotency-Key" in names
        assert {"400", "409", "422"} <= operation["responses"].keys()
        assert "Retry-After" in operation["responses"]["409"]["headers"]
        assert "Idempotent-Replayed" in operation["responses"]["200"]["headers"]
    assert "Idempotency-Key" not in str(paths["/heroes/{hero_id}"]["delete"])


def test_cors_allows_the_key_and_exposes_the_replay_header(
    settings: Settings, clean_db: Engine
) -> None:
    origin = "https://app.example.com"
    app = create_app(settings.model_copy(update={"cors_allow_origins": [origin]}))
    with TestClient(app) as client:
        preflight = client.options(
            "/heroes/",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "idempotency-key,content-type",
            },
        )
        answer = post(client, DEADPOND, Origin=origin)

    assert preflight.status_code == 200
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    assert "idempotent-replayed" in answer.headers["access-control-expose-headers"].lower()
