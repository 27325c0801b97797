"""Query parameters read by a pydantic model in one step, and declared to OpenAPI from it.

FastAPI resolves each declared parameter on every request, at about 8 µs apiece
(bench/PROFILE.md): more than the query behind a page or a hero. A route that reads its
query string with `validated_query` instead, and passes `query_parameters` in its
`openapi_extra`, answers the same 422 (FastAPI's shape, at `("query", name)`) and shows the
same parameters in /docs, while the model stays the one place their rules are written.
"""

from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams

Parameters = TypeVar("Parameters", bound=BaseModel)


def validated_query(model: type[Parameters], params: QueryParams) -> Parameters:
    """The query string read by `model` (a repeated parameter's last value counts, as in
    FastAPI), or the 422 FastAPI would answer."""
    try:
        return model.model_validate(dict(params))
    except ValidationError as error:
        problems = error.errors(include_url=False)
        raise RequestValidationError(
            [problem | {"loc": ("query", *problem["loc"])} for problem in problems]
        ) from None


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The model's fields as OpenAPI query parameters, optional, in the model's order."""
    properties = model.model_json_schema()["properties"]
    parameters = []
    for name, schema in properties.items():
        description = schema.pop("description")
        parameters.append(
            {"name": name, "in": "query", "required": False, "description": description}
            | {"schema": schema}
        )
    return parameters
