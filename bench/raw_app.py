"""The hardware's ceiling: a raw ASGI app with the thinnest database access and orjson.

No framework: one function routes GET /heroes/{id}, GET /heroes/?offset=&limit= (with
`expand=team`), POST /heroes/, PATCH /heroes/{id} and GET /teams/{id}, and answers with the
service's JSON shapes (`{"name", "age", "id"}`, a team with its heroes, `{"detail": ...}` for
errors), running the service's statements: a team and then its heroes; a page and then its
teams by id. The database comes from DATABASE_URL:

- `sqlite:///path`: one sqlite3 connection per worker in autocommit mode (WAL,
  synchronous=NORMAL, 10 s busy timeout), used directly on the event loop.
- `postgresql://user@host:port/db[?options=-csearch_path%3Dschema]`: an asyncpg pool per
  worker of RAW_PG_POOL_SIZE connections (default 10).

It reads and writes the tables the service creates (`hero`: id, name, age, secret_name,
team_id; `team`: id, name, headquarters).
"""

import os
import sqlite3
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import asyncpg
import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Row = tuple[int, str, int | None]
TeamRow = tuple[int, str, str]

TEXT_MAX = 255
AGE_MAX = 2**31 - 1
ID_MAX = 2**63 - 1
PAGE_MAX = 100
FIELDS = ("name", "age", "secret_name")


class Invalid(Exception):
    """The request breaks a rule: answer 422 (or 400 for a body that is not JSON)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def hero_json(row: Row) -> dict[str, Any]:
    return {"name": row[1], "age": row[2], "id": row[0]}


def team_json(row: TeamRow) -> dict[str, Any]:
    return {"name": row[1], "headquarters": row[2], "id": row[0]}


def expanded_json(row: tuple[Any, ...], teams: dict[int, dict[str, Any]]) -> dict[str, Any]:
    body = hero_json(row[:3])
    body["team"] = None if row[3] is None else teams.get(row[3])
    return body


def check_text(value: object, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= TEXT_MAX or "\x00" in value:
        raise Invalid(422, f"{field}: a string of 1 to {TEXT_MAX} characters")
    return value


def check_age(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= AGE_MAX:
        raise Invalid(422, f"age: null or an integer from 0 to {AGE_MAX}")
    return value


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Invalid(400, "Malformed JSON body") from None
    if not isinstance(data, dict):
        raise Invalid(422, "body: a JSON object")
    return data


def creation(data: dict[str, Any]) -> tuple[str, int | None, str]:
    return (
        check_text(data.get("name"), "name"),
        check_age(data.get("age")),
        check_text(data.get("secret_name"), "secret_name"),
    )


def changes(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in FIELDS:
        if field in data:
            value = data[field]
            values[field] = check_age(value) if field == "age" else check_text(value, field)
    return values


def _update_statements(placeholder: Callable[[int], str]) -> dict[tuple[str, ...], str]:
    """One prepared UPDATE per set of changed fields, keyed by the fields in FIELDS order."""
    statements = {}
    for mask in range(1, 2 ** len(FIELDS)):
        fields = tuple(field for bit, field in enumerate(FIELDS) if mask & (1 << bit))
        assignments = ", ".join(
            f"{field} = {placeholder(i + 1)}" for i, field in enumerate(fields)
        )
        # Column names come from FIELDS only; values are bound parameters.
        where = f"WHERE id = {placeholder(len(fields) + 1)} RETURNING id, name, age"
        statements[fields] = f"UPDATE hero SET {assignments} {where}"  # noqa: S608
    return statements


class SqliteStore:
    GET = "SELECT id, name, age FROM hero WHERE id = ?"
    LIST = "SELECT id, name, age FROM hero ORDER BY id LIMIT ? OFFSET ?"
    SEARCH = (
        "SELECT id, name, age FROM hero WHERE age >= ? AND age <= ? "
        "ORDER BY age DESC, name, id LIMIT ?"
    )
    CREATE = "INSERT INTO hero (name, age, secret_name) VALUES (?, ?, ?) RETURNING id, name, age"
    UPDATES = _update_statements(lambda _: "?")
    TEAM = "SELECT id, name, headquarters FROM team WHERE id = ?"
    MEMBERS = "SELECT id, name, age FROM hero WHERE team_id = ? ORDER BY id LIMIT 100"
    LIST_WITH_TEAM = "SELECT id, name, age, team_id FROM hero ORDER BY id LIMIT ? OFFSET ?"

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=10000")

    async def get(self, hero_id: int) -> Row | None:
        row: Row | None = self.db.execute(self.GET, (hero_id,)).fetchone()
        return row

    async def search(self, min_age: int, max_age: int, limit: int) -> list[Row]:
        return self.db.execute(self.SEARCH, (min_age, max_age, limit)).fetchall()

    async def list(self, offset: int, limit: int) -> list[Row]:
        return self.db.execute(self.LIST, (limit, offset)).fetchall()

    async def team(self, team_id: int) -> tuple[TeamRow | None, Sequence[Row]]:
        team: TeamRow | None = self.db.execute(self.TEAM, (team_id,)).fetchone()
        if team is None:
            return None, []
        return team, self.db.execute(self.MEMBERS, (team_id,)).fetchall()

    async def list_with_teams(
        self, offset: int, limit: int
    ) -> tuple[Sequence[tuple[Any, ...]], Sequence[TeamRow]]:
        rows = self.db.execute(self.LIST_WITH_TEAM, (limit, offset)).fetchall()
        ids = sorted({row[3] for row in rows if row[3] is not None})
        if not ids:
            return rows, []
        marks = ", ".join("?" * len(ids))
        by_ids = f"SELECT id, name, headquarters FROM team WHERE id IN ({marks})"  # noqa: S608
        return rows, self.db.execute(by_ids, ids).fetchall()

    async def create(self, values: tuple[str, int | None, str]) -> Row:
        row: Row = self.db.execute(self.CREATE, values).fetchone()
        return row

    async def update(self, hero_id: int, values: dict[str, Any]) -> Row | None:
        if not values:
            return await self.get(hero_id)
        fields = tuple(field for field in FIELDS if field in values)
        params = (*(values[field] for field in fields), hero_id)
        row: Row | None = self.db.execute(self.UPDATES[fields], params).fetchone()
        return row

    async def close(self) -> None:
        self.db.close()


class PostgresStore:
    GET = "SELECT id, name, age FROM hero WHERE id = $1"
    LIST = "SELECT id, name, age FROM hero ORDER BY id LIMIT $1 OFFSET $2"
    SEARCH = (
        "SELECT id, name, age FROM hero WHERE age >= $1 AND age <= $2 "
        "ORDER BY age DESC, name, id LIMIT $3"
    )
    CREATE = (
        "INSERT INTO hero (name, age, secret_name) VALUES ($1, $2, $3) RETURNING id, name, age"
    )
    UPDATES = _update_statements(lambda i: f"${i}")
    TEAM = "SELECT id, name, headquarters FROM team WHERE id = $1"
    MEMBERS = "SELECT id, name, age FROM hero WHERE team_id = $1 ORDER BY id LIMIT 100"
    LIST_WITH_TEAM = "SELECT id, name, age, team_id FROM hero ORDER BY id LIMIT $1 OFFSET $2"
    TEAMS = "SELECT id, name, headquarters FROM team WHERE id = ANY($1::bigint[])"

    def __init__(self, pool: "asyncpg.Pool[asyncpg.Record]") -> None:
        self.pool = pool

    @classmethod
    async def open(cls, url: str) -> "PostgresStore":
        # libpq's `options=-c name=value` becomes asyncpg's server_settings.
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query)
        settings: dict[str, str] = {}
        for option in query.pop("options", []):
            for word in option.split():
                name, _, value = word.removeprefix("-c").partition("=")
                settings[name] = value
        dsn = parts._replace(
            scheme="postgresql", query=urllib.parse.urlencode(query, doseq=True)
        ).geturl()
        size = int(os.environ.get("RAW_PG_POOL_SIZE", "10"))
        pool = await asyncpg.create_pool(
            dsn, min_size=size, max_size=size, server_settings=settings
        )
        return cls(pool)

    async def get(self, hero_id: int) -> Row | None:
        row = await self.pool.fetchrow(self.GET, hero_id)
        return None if row is None else (row[0], row[1], row[2])

    async def search(self, min_age: int, max_age: int, limit: int) -> list[Row]:
        rows = await self.pool.fetch(self.SEARCH, min_age, max_age, limit)
        return [(row[0], row[1], row[2]) for row in rows]

    async def list(self, offset: int, limit: int) -> list[Row]:
        rows = await self.pool.fetch(self.LIST, limit, offset)
        return [(row[0], row[1], row[2]) for row in rows]

    async def team(self, team_id: int) -> tuple[TeamRow | None, Sequence[Row]]:
        team = await self.pool.fetchrow(self.TEAM, team_id)
        if team is None:
            return None, []
        heroes = await self.pool.fetch(self.MEMBERS, team_id)
        return (team[0], team[1], team[2]), [(row[0], row[1], row[2]) for row in heroes]

    async def list_with_teams(
        self, offset: int, limit: int
    ) -> tuple[Sequence[tuple[Any, ...]], Sequence[TeamRow]]:
        rows = [tuple(row) for row in await self.pool.fetch(self.LIST_WITH_TEAM, limit, offset)]
        ids = sorted({row[3] for row in rows if row[3] is not None})
        if not ids:
            return rows, []
        teams = await self.pool.fetch(self.TEAMS, ids)
        return rows, [(row[0], row[1], row[2]) for row in teams]

    async def create(self, values: tuple[str, int | None, str]) -> Row:
        row = await self.pool.fetchrow(self.CREATE, *values)
        assert row is not None
        return (row[0], row[1], row[2])

    async def update(self, hero_id: int, values: dict[str, Any]) -> Row | None:
        if not values:
            return await self.get(hero_id)
        fields = tuple(field for field in FIELDS if field in values)
        row = await self.pool.fetchrow(
            self.UPDATES[fields], *(values[field] for field in fields), hero_id
        )
        return None if row is None else (row[0], row[1], row[2])

    async def close(self) -> None:
        await self.pool.close()


Store = SqliteStore | PostgresStore
NOT_FOUND = orjson.dumps({"detail": "Hero not found"})
HEADERS = [(b"content-type", b"application/json")]


async def open_store() -> Store:
    url = os.environ.get("DATABASE_URL", "sqlite:///./heroes.db")
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        return await PostgresStore.open(url)
    raise SystemExit(f"raw_app: unsupported DATABASE_URL {url!r}")


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": HEADERS})
    await send({"type": "http.response.body", "body": body})


def query_int(params: dict[str, list[str]], name: str, default: int, maximum: int) -> int:
    values = params.get(name)
    if not values:
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise Invalid(422, f"{name}: an integer") from None
    if not 0 <= value <= maximum:
        raise Invalid(422, f"{name}: from 0 to {maximum}")
    return value


async def search(store: Store, params: dict[str, list[str]], limit: int) -> list[Row]:
    """The benchmark's one filtered, sorted shape: ages in a range, oldest first, by name."""
    if params["sort"] != ["-age,name"]:
        raise Invalid(422, "sort: only -age,name")
    min_age = query_int(params, "min_age", 0, AGE_MAX)
    max_age = query_int(params, "max_age", AGE_MAX, AGE_MAX)
    return await store.search(min_age, max_age, limit)


def path_id(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if -ID_MAX - 1 <= value <= ID_MAX else None


async def handle(  # noqa: PLR0911  # one router, one return per answer
    store: Store, scope: Scope, receive: Receive
) -> tuple[int, bytes]:
    method: str = scope["method"]
    path: str = scope["path"]
    if path == "/heroes/":
        if method == "GET":
            params = urllib.parse.parse_qs(scope["query_string"].decode("latin-1"))
            limit = query_int(params, "limit", PAGE_MAX, PAGE_MAX)
            if "sort" in params:
                rows = await search(store, params, limit)
                return 200, orjson.dumps([hero_json(row) for row in rows])
            offset = query_int(params, "offset", 0, ID_MAX)
            if params.get("expand") == ["team"]:
                return 200, await expanded_page(store, offset, limit)
            rows = await store.list(offset, limit)
            return 200, orjson.dumps([hero_json(row) for row in rows])
        if method == "POST":
            values = creation(parse_body(await read_body(receive)))
            return 200, orjson.dumps(hero_json(await store.create(values)))
        return 405, b'{"detail":"Method Not Allowed"}'
    if path.startswith("/heroes/"):
        hero_id = path_id(path[8:])
        if hero_id is None:
            raise Invalid(422, "hero_id: a 64-bit integer")
        if method == "GET":
            row = await store.get(hero_id)
        elif method == "PATCH":
            row = await store.update(hero_id, changes(parse_body(await read_body(receive))))
        else:
            return 405, b'{"detail":"Method Not Allowed"}'
        if row is None:
            return 404, NOT_FOUND
        return 200, orjson.dumps(hero_json(row))
    if path.startswith("/teams/") and method == "GET":
        return await read_team(store, path[7:])
    return 404, b'{"detail":"Not Found"}'


async def expanded_page(store: Store, offset: int, limit: int) -> bytes:
    rows, teams = await store.list_with_teams(offset, limit)
    bodies = {team[0]: team_json(team) for team in teams}
    return orjson.dumps([expanded_json(row, bodies) for row in rows])


async def read_team(store: Store, raw_id: str) -> tuple[int, bytes]:
    team_id = path_id(raw_id)
    if team_id is None:
        raise Invalid(422, "team_id: a 64-bit integer")
    team, heroes = await store.team(team_id)
    if team is None:
        return 404, b'{"detail":"Team not found"}'
    body = team_json(team)
    body["heroes"] = [hero_json(row) for row in heroes]
    return 200, orjson.dumps(body)


class RawApp:
    def __init__(self) -> None:
        self.store: Store | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            assert self.store is not None
            try:
                status, body = await handle(self.store, scope, receive)
            except Invalid as error:
                status, body = error.status, orjson.dumps({"detail": error.detail})
            await respond(send, status, body)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.store = await open_store()
                except Exception as error:  # reported to uvicorn
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.store is not None:
                    await self.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


app = RawApp()
