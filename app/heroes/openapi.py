"""How the hero routes are declared in the API docs: in one place, so that the router
imports a handful of names."""

from typing import Any

from app.heroes.errors import (
    HeroNotFound,
    InvalidHeroChanges,
    InvalidHeroHistory,
    InvalidHeroId,
    InvalidHeroRestore,
    InvalidPage,
)
from app.heroes.resource import HERO_HISTORY, HEROES, HEROES_LIST, READ_PARAMETERS
from app.kit.batch.answers import batch_route
from app.kit.idempotency.writes import idempotent_operation
from app.kit.openapi import ROUTER, Errors, history_docs, path_id, restore_docs, route_docs

TAG = {
    "name": "heroes",
    "description": (
        "Create, list, read, update and delete heroes; read a hero's history and restore "
        'an earlier version, a deleted hero included. A hero\'s JSON body is exactly `{"id", '
        '"name", "age"}`; `secret_name` is accepted on writes and never returned.'
    ),
}

HeroId = path_id("hero")

ERRORS = Errors(
    not_found=HeroNotFound,
    invalid_id=InvalidHeroId,
    invalid_page=InvalidPage,
    invalid_changes=InvalidHeroChanges,
)
_DOCS = route_docs(HEROES, HEROES_LIST, ERRORS, READ_PARAMETERS)
CREATE: dict[str, Any] = idempotent_operation(_DOCS.create)
LIST: dict[str, Any] = _DOCS.list
READ: dict[str, Any] = _DOCS.read
UPDATE: dict[str, Any] = idempotent_operation(_DOCS.update)
DELETE: dict[str, Any] = _DOCS.delete
HISTORY: dict[str, Any] = history_docs(HEROES, HERO_HISTORY, HeroNotFound, InvalidHeroHistory)
RESTORE: dict[str, Any] = restore_docs(HEROES, ERRORS, InvalidHeroRestore)
BATCH: dict[str, Any] = idempotent_operation(batch_route("hero", "heroes"))
__all__ = [
    "BATCH",
    "CREATE",
    "DELETE",
    "HISTORY",
    "LIST",
    "READ",
    "RESTORE",
    "ROUTER",
    "TAG",
    "UPDATE",
    "HeroId",
]
