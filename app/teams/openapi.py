"""How the team routes are declared in the API docs."""

from typing import Any

from app.kit.batch.answers import batch_route
from app.kit.idempotency.writes import idempotent_operation
from app.kit.openapi import ROUTER, Errors, history_docs, path_id, restore_docs, route_docs
from app.teams.errors import (
    InvalidTeamChanges,
    InvalidTeamHistory,
    InvalidTeamId,
    InvalidTeamPage,
    InvalidTeamRestore,
    TeamNameTaken,
    TeamNotFound,
)
from app.teams.models import HEROES_SHOWN
from app.teams.resource import TEAM_HISTORY, TEAMS, TEAMS_LIST

TAG = {
    "name": "teams",
    "description": (
        "Create, list, read, update and delete teams. A team's JSON body is "
        '`{"id", "name", "headquarters"}`; reading one adds `"heroes"`, the first '
        f"{HEROES_SHOWN} of its heroes in id order (`GET /heroes/?team_id=` lists them all). "
        "Names are unique: a taken one is 409. Deleting a team releases its heroes: their "
        "`team_id` becomes null, and their ETags change. A team's history lists its "
        "versions; restoring one brings the team back, not its heroes."
    ),
}

TeamId = path_id("team")

ERRORS = Errors(
    not_found=TeamNotFound,
    invalid_id=InvalidTeamId,
    invalid_page=InvalidTeamPage,
    invalid_changes=InvalidTeamChanges,
    conflicts=(TeamNameTaken,),
)
_DOCS = route_docs(TEAMS, TEAMS_LIST, ERRORS)
CREATE: dict[str, Any] = idempotent_operation(_DOCS.create)
LIST: dict[str, Any] = _DOCS.list
READ: dict[str, Any] = _DOCS.read
UPDATE: dict[str, Any] = idempotent_operation(_DOCS.update)
DELETE: dict[str, Any] = _DOCS.delete
HISTORY: dict[str, Any] = history_docs(TEAMS, TEAM_HISTORY, TeamNotFound, InvalidTeamHistory)
RESTORE: dict[str, Any] = restore_docs(TEAMS, ERRORS, InvalidTeamRestore)
BATCH: dict[str, Any] = idempotent_operation(batch_route("team", "teams"))
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
    "TeamId",
]
