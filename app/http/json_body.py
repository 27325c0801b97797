"""Strict JSON request bodies for every route.

Python's `json.loads(bytes)` decodes leniently: UTF-8 that encodes a surrogate slips through
and surfaces later as a confusing 422. Here the body must be valid UTF-8 and reasonably
shallow; otherwise FastAPI sees a JSON decode error, which the app answers with a 400.
"""

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body())
        return self._json


def parse_json_body(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))  # strict: no encoded surrogates
    except UnicodeDecodeError as error:
        raise json.JSONDecodeError("Invalid UTF-8", "", error.start) from None
    except RecursionError:
        raise json.JSONDecodeError("Nested too deeply", "", 0) from None


class StrictJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_strictly(request: Request) -> Response:
            return await handle(StrictJSONRequest(request.scope, request.receive))

        return handle_strictly
