"""What reading the list's query string costs: the hand-written way beside FastAPI's
query-parameter models.

    .venv/bin/python bench/query_models.py                # µs of CPU per request
    .venv/bin/python bench/query_models.py --show         # and the OpenAPI and 422s

Minimal FastAPI apps answer `GET /heroes/` with a constant and only parse the list's query
string (`HEROES_LIST.model`, made by app/kit/listing/parameters.py), each in its own way:

- `constant`: no parameters at all (the floor: what routing and FastAPI cost);
- `hand-written`: the service's way, a dependency that refuses unknown parameters and
  validates `dict(request.query_params)` in one step (`validated_query`), declared to
  OpenAPI with `openapi_extra`;
- `Query() model`: FastAPI's query-parameter model, `Annotated[ListParameters, Query()]`
  with `extra="forbid"`, in a dependency that also takes the `Request` (the shape
  `list_request` would have, since it reads the `Prefer` header and the app's settings);
- `Query() model, in route`: the same model as a parameter of the route itself.

Each is called with the tutorial's plain `GET /heroes/`, a typical search, and every
parameter. The ASGI apps are called directly (no sockets), the rounds take turns, app
after app, in one process; the figure is CPU time (`time.process_time`) per request, the
least and the median of the rounds, and the ratio of the least to the hand-written way's.
"""

import argparse
import asyncio
import json
import statistics
import time
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, create_model
from starlette.types import ASGIApp, Message

from app.heroes.resource import HEROES_LIST
from app.http.errors import install_error_handlers
from app.http.query_string import validated_query
from app.kit.listing.cursors import Cursor, codec, fingerprint

CURSOR = codec(None).encode(Cursor((30, "Deadpond", 7)), fingerprint(["a query"]))
CALLS: dict[str, bytes] = {
    "plain": b"",
    "typical": b"limit=10&sort=-age,name&min_age=18",
    "every parameter": (
        b"name=Deadpond&name_contains=pond&age=30&min_age=18&max_age=60&has_age=true"
        b"&sort=-age,name&cursor=" + CURSOR.encode() + b"&offset=0&limit=10&fields=created_at"
    ),
}
UNKNOWN = b"limit=10&colour=red"
CONSTANT = Response(b"[]", media_type="application/json")


ListParameters = HEROES_LIST.model
# The list's parameters as a FastAPI query model: unknown ones are a 422.
ForbiddingListParameters = create_model("ForbiddingListParameters", __base__=ListParameters)
ForbiddingListParameters.model_config["extra"] = "forbid"
ForbiddingListParameters.model_rebuild(force=True)
_KNOWN = frozenset(HEROES_LIST.names)


def _hand_written(request: Request) -> BaseModel:
    """What the kit's ListParameters.query does before building the query."""
    if not request.query_params.keys() <= _KNOWN:
        problem = {"type": "value_error", "loc": ("query",), "msg": "unknown query parameter"}
        raise RequestValidationError([problem])
    return validated_query(ListParameters, request.query_params)


async def hand_written_parameters(request: Request) -> BaseModel:
    return _hand_written(request)


async def model_parameters(
    given: Annotated[ForbiddingListParameters, Query()],
    request: Request,
) -> BaseModel:
    return given


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)  # the service's 422 body (no echoed input)
    return app


def apps() -> dict[str, FastAPI]:
    constant, hand, model, in_route = _app(), _app(), _app(), _app()

    @constant.get("/heroes/")
    async def list_constant() -> Response:
        return CONSTANT

    @hand.get("/heroes/", openapi_extra=HEROES_LIST.openapi)
    async def list_hand(
        given: Annotated[BaseModel, Depends(hand_written_parameters)],
    ) -> Response:
        return CONSTANT

    @model.get("/heroes/")
    async def list_model(given: Annotated[BaseModel, Depends(model_parameters)]) -> Response:
        return CONSTANT

    @in_route.get("/heroes/")
    async def list_in_route(
        given: Annotated[ForbiddingListParameters, Query()],
    ) -> Response:
        return CONSTANT

    return {
        "constant": constant,
        "hand-written": hand,
        "Query() model": model,
        "Query() model, in route": in_route,
    }


async def _call(app: ASGIApp, query: bytes) -> tuple[int, bytes]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/heroes/",
        "raw_path": b"/heroes/",
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:8000")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    status, body = 0, b""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    await app(scope, receive, send)
    return status, body


async def _round(app: ASGIApp, query: bytes, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        await _call(app, query)
    return (time.process_time() - started) / count * 1e6


async def measure(args: argparse.Namespace) -> None:
    contenders = apps()
    for name, app in contenders.items():  # every app answers every call, and warms up
        for query in CALLS.values():
            status, body = await _call(app, query)
            assert status == 200, (name, query, body)
    figures: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for call, query in CALLS.items():
            for name, app in contenders.items():
                if name == "constant" and query:
                    continue  # the floor is the plain call's
                result = await _round(app, query, args.requests)
                figures.setdefault((call, name), []).append(result)
    print(f"CPU µs per request, least / median of {args.rounds} rounds of {args.requests}:")
    for call in CALLS:
        base = min(figures[call, "hand-written"])
        print(f"  {call}: ?{CALLS[call].decode()[:60]}")
        for (of, name), results in figures.items():
            if of == call:
                least = min(results)
                median = statistics.median(results)
                print(f"    {name:<26} {least:6.1f} / {median:6.1f}  {least / base:5.2f}x")


async def show() -> None:
    """What each way shows in OpenAPI and answers for an unknown parameter."""
    for name, app in apps().items():
        if name == "constant":
            continue
        parameters = app.openapi()["paths"]["/heroes/"]["get"].get("parameters", [])
        print(f"{name}: {len(parameters)} OpenAPI parameters")
        for parameter in parameters[:3]:
            print("   ", json.dumps(parameter, ensure_ascii=False)[:300])
        status, body = await _call(app, UNKNOWN)
        print(f"  ?{UNKNOWN.decode()} -> {status} {body.decode()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--show", action="store_true", help="also print OpenAPI and 422s")
    args = parser.parse_args()
    if args.show:
        asyncio.run(show())
    asyncio.run(measure(args))


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    main()
