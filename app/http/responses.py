"""Response classes the framework does not provide."""

from typing import Any

import orjson
from pydantic import ConfigDict
from starlette.responses import JSONResponse

ANSWER_CONFIG = ConfigDict(json_schema_serialization_defaults_required=True)
"""The config of a model that describes an answer. A field with a default is still in
every answer (a hero's `age`, as null), so the response schema, drawn in serialization
mode, marks it required and client generators type it as always there. Request schemas,
drawn in validation mode, keep such fields optional."""


class FastJSONResponse(JSONResponse):
    """JSON for plain, already valid data (dicts, lists, numbers, strings), by orjson.

    For strings, numbers and null it renders the bytes FastAPI's own serialisation would
    (compact, UTF-8), without building a model object per item; datetimes come out in
    RFC 3339 with their offset (`+00:00`). A route that returns one declares its
    `response_model` for the docs.
    """

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
