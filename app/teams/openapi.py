"""How the team routes are declared in the API docs."""

from typing import Any

from app.kit.batch.answers import batch_route
from app.kit.idempotency.writes import idempotent_operation
from app.kit.openapi import ROUTER, Errors, path_id, route_docs
from app.teams.errors import (
    InvalidTeamChanges,
    InvalidTeamId,
    InvalidTeamPage,
    TeamNameTaken,
    TeamNotFound,
)
from app.teams.models import HEROES_SHOWN
from app.teams.resource import TEAMS, TEAMS_LIST

TAG = {
    "name": "teams",
    "description": (
        "Create, list, read, update and delete teams. A team's JSON body is "
        '`{"id", "name", "headquarters"}`; reading one adds `"heroes"`, the first '
        f"{HEROES_SHOWN} of its heroes in id order (`GET /heroes/?team_id=` lists them all). "
        "Names are unique: a taken one is 409. Deleting a team releases its heroes: their "
        "`team_id` becomes null, and their ETags change."
    ),
}

TeamId = path_id("team")

_DOCS = route_docs(
    TEAMS,
    TEAMS_LIST,
    Errors(
        not_found=TeamNotFound,
        invalid_id=InvalidTeamId,
        invalid_page=InvalidTeamPage,
        invalid_changes=InvalidTeamChanges,
        conflicts=(TeamNameTaken,),
    ),
)
CREATE: dict[str, Any] = idempotent_operation(_DOCS.create)
LIST: dict[str, Any] = _DOCS.list
READ: dict[str, Any] = _DOCS.read
UPDATE: dict[str, Any] = idempotent_operation(_DOCS.update)
DELETE: dict[str, Any] = _DOCS.delete
BATCH: dict[str, Any] = idempotent_operation(batch_route("team", "teams"))
__all__ = ["BATCH", "CREATE", "DELETE", "LIST", "READ", "ROUTER", "TAG", "UPDATE", "TeamId"]
