"""How a resource's five routes are declared in the API docs, from its description: the
answers each can give, with their headers and examples, and the headers and query
parameters the routes read themselves."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Path

from app.db import DatabaseUnavailable
from app.errors import NotOwner, PreconditionFailed, PreconditionRequired, Unauthenticated
from app.http.conditional import declared_headers
from app.http.docs import SIGNED_IN_IF_POLICY
from app.http.errors import (
    BodyTooLarge,
    InvalidInput,
    MalformedBody,
    RequestTimedOut,
    UriTooLong,
    declare,
)
from app.http.path_ids import CanonicalInt
from app.kit.changes.errors import NotRestorable, RestoreConflict
from app.kit.changes.history import History
from app.kit.fields import ID_MAX
from app.kit.idempotency.writes import idempotent_operation
from app.kit.listing.parameters import ListParameters
from app.kit.resource import Resource
from app.kit.validators import conditional_headers, row_headers

ROUTER: dict[str, Any] = {"responses": declare(DatabaseUnavailable)}
"""What every route of a resource may answer."""


def path_id(singular: str) -> Any:
    """The type of a route's `{singular}_id` path parameter: a 64-bit id, written as
    digits (app/http/path_ids.py)."""
    return Annotated[
        int,
        Path(ge=-ID_MAX - 1, le=ID_MAX, description=f"The {singular}'s id (64-bit)."),
        CanonicalInt,
    ]


def invalid_id(singular: str) -> dict[str, Any]:
    """The 422 problem of a path id that is not an integer."""
    return {
        "type": "int_parsing",
        "loc": ["path", f"{singular}_id"],
        "msg": "Input should be a valid integer, unable to parse string as an integer",
    }


@dataclass(frozen=True, slots=True)
class Errors:
    """What a resource's routes may refuse, beyond what every resource's may."""

    not_found: type[Exception]
    invalid_id: type[InvalidInput]
    invalid_page: type[InvalidInput]
    invalid_changes: type[InvalidInput]
    invalid_new: type[InvalidInput] = InvalidInput
    conflicts: tuple[type[Exception], ...] = ()


@dataclass(frozen=True, slots=True)
class RouteDocs:
    """Each route's keyword arguments to the router's decorator."""

    create: dict[str, Any]
    list: dict[str, Any]
    read: dict[str, Any]
    update: dict[str, Any]
    delete: dict[str, Any]


def route_docs(
    resource: Resource,
    listing: ListParameters,
    errors: Errors,
    read_parameters: list[dict[str, Any]] | tuple[()] = (),
) -> RouteDocs:
    """The docs of a resource's create, list, read, update and delete routes.
    `read_parameters` are the query parameters that GET one reads itself."""
    singular = resource.singular
    headers = row_headers(singular)
    location = {
        "Location": {"description": f"The new {singular}'s URL.", "schema": {"type": "string"}}
    }
    conditions = conditional_headers(singular)
    # Every route may need a token (WRITE_POLICY, READ_POLICY), and refuses a bad one.
    write_conditions = (
        declared_headers(
            conditions.if_match, conditions.if_none_match_write, conditions.if_unmodified_since
        )
        | SIGNED_IN_IF_POLICY
    )
    return RouteDocs(
        create={
            "responses": {
                200: {"headers": headers | location},
                **declare(
                    Unauthenticated,
                    MalformedBody,
                    RequestTimedOut,
                    *errors.conflicts,
                    BodyTooLarge,
                    errors.invalid_new,
                ),
            },
            "summary": f"Create a {singular}",
            "openapi_extra": SIGNED_IN_IF_POLICY,
        },
        list={
            "responses": declare(Unauthenticated, UriTooLong, errors.invalid_page),
            "summary": f"List {resource.name}",
            "openapi_extra": listing.openapi | SIGNED_IN_IF_POLICY,
        },
        read={
            "responses": {
                200: {"headers": headers},
                304: {
                    "description": "Not Modified: the copy the client names is current (no body)",
                    "headers": headers,
                },
                **declare(Unauthenticated, errors.not_found, errors.invalid_id),
            },
            "summary": f"Read a {singular}",
            "openapi_extra": declared_headers(
                conditions.if_none_match, conditions.if_modified_since, query=read_parameters
            )
            | SIGNED_IN_IF_POLICY,
        },
        update={
            "responses": {
                200: {"headers": headers},
                **declare(
                    Unauthenticated,
                    NotOwner,
                    errors.not_found,
                    MalformedBody,
                    RequestTimedOut,
                    *errors.conflicts,
                    PreconditionFailed,
                    BodyTooLarge,
                    errors.invalid_changes,
                    PreconditionRequired,
                ),
            },
            "summary": f"Update a {singular}",
            "openapi_extra": write_conditions,
        },
        delete={
            "responses": {
                200: {"content": {"application/json": {"example": {"ok": True}}}},
                **declare(
                    Unauthenticated,
                    NotOwner,
                    errors.not_found,
                    PreconditionFailed,
                    errors.invalid_id,
                    PreconditionRequired,
                ),
            },
            "summary": f"Delete a {singular}",
            "openapi_extra": write_conditions,
        },
    )


def history_docs(
    resource: Resource, history: History, not_found: type[Exception], invalid: type[InvalidInput]
) -> dict[str, Any]:
    """The docs of a resource's history route (`GET /{name}/{id}/history`)."""
    return {
        "responses": declare(Unauthenticated, not_found, UriTooLong, invalid),
        "summary": f"Read a {resource.singular}'s history",
        "openapi_extra": history.openapi | SIGNED_IN_IF_POLICY,
    }


def restore_docs(
    resource: Resource, errors: Errors, invalid: type[InvalidInput]
) -> dict[str, Any]:
    """The docs of a resource's restore route (`POST /{name}/{id}/restore`), Idempotency-Key
    included."""
    conditions = conditional_headers(resource.singular)
    refusals = declare(
        Unauthenticated,
        NotOwner,
        errors.not_found,
        MalformedBody,
        RequestTimedOut,
        PreconditionFailed,
        BodyTooLarge,
        invalid,
        PreconditionRequired,
    )
    operation = {
        "responses": {200: {"headers": row_headers(resource.singular)}, **refusals}
        | _declared_together(RestoreConflict, NotRestorable, *errors.conflicts),
        "summary": f"Restore a {resource.singular}",
        "openapi_extra": declared_headers(
            conditions.if_match, conditions.if_none_match_write, conditions.if_unmodified_since
        )
        | SIGNED_IN_IF_POLICY,
    }
    return idempotent_operation(operation)


def _declared_together(*errors: type[Exception]) -> dict[int | str, dict[str, Any]]:
    """Errors of one status declared as one answer: the first's example, every one's
    description."""
    first, *others = errors
    declared = declare(first)
    ((status, entry),) = declared.items()
    for other in others:
        ((_, more),) = declare(other).items()
        entry["description"] = f"{entry['description']}; or {more['description']}"
    return {status: entry}
