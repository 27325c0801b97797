"""The team routes, in the tutorial's style: each reads its request and calls the service."""

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response

from app.auth.policy import writer_of
from app.http.dependencies import DatabaseDep, OptionsDep
from app.http.json_body import StrictJSONRoute
from app.http.responses import FastJSONResponse
from app.kit.batch.answers import BatchResults, respond_batch
from app.kit.batch.items import Author
from app.kit.changes.history import NO_VERSION, RestoreRequest
from app.kit.changes.origin import origin_of
from app.kit.idempotency.writes import Once, respond_once
from app.kit.listing.links import page_response
from app.kit.listing.parameters import ListRequest
from app.kit.responses import Deleted
from app.kit.rows import owned_by
from app.kit.validators import is_current, not_modified, write_preconditions
from app.teams import openapi, service
from app.teams.models import (
    StoredTeam,
    TeamBatch,
    TeamCreate,
    TeamPublic,
    TeamPublicWithHeroes,
    TeamUpdate,
)
from app.teams.openapi import TeamId
from app.teams.resource import (
    TEAM_HISTORY,
    TEAMS,
    TEAMS_LIST,
    TeamChange,
    list_body,
    stored_team,
    team_response,
)

router = APIRouter(prefix="/teams", tags=["teams"], route_class=StrictJSONRoute, **openapi.ROUTER)
TeamsPage = Annotated[ListRequest, Depends(TEAMS_LIST.dependency)]


@router.post("/", response_model=TeamPublic, **openapi.CREATE)
async def create_team(
    team: TeamCreate, database: DatabaseDep, options: OptionsDep, request: Request
) -> Response:
    """Create a team and answer it with its new id, its `ETag`, `Last-Modified`, and its
    URL in `Location` (status 200, as for heroes). A name another team has is 409; any
    `id` in the body is ignored. With `Idempotency-Key`, a retry creates no second team:
    it gets the first answer again."""

    def created(team: StoredTeam) -> Response:
        location = str(request.url_for("read_team", team_id=team.id))
        return team_response(team, location=location)

    writer = await writer_of(request, database)
    origin = origin_of(request, writer.user_id)
    write = partial(service.create_team, database, team, owner_id=writer.user_id, origin=origin)
    return await respond_once(request, options, database, Once(write, created, stored_team))


@router.get("/", response_model=list[TeamPublic], **openapi.LIST)
async def list_teams(listing: TeamsPage, database: DatabaseDep) -> FastJSONResponse:
    """Teams that match every filter given, in the order `sort` asks (default: `id`), a
    page at a time, by `offset` or by the cursors of the `Link` header, as heroes are.
    `Prefer: count=exact` adds `X-Total-Count`."""
    page = await service.list_teams(database, listing.query)
    return page_response(listing, page, TEAMS.key_places, list_body)


@router.get(
    "/{team_id:row_id}",
    response_model=TeamPublicWithHeroes,
    **openapi.READ,
)
async def read_team(team_id: TeamId, database: DatabaseDep, request: Request) -> Response:
    """The team with this id and its heroes (the first 100, in id order), or 404. Its
    `ETag` and `Last-Modified` change when the team does and when its heroes do (joining,
    leaving, changing). 304 without a body when `If-None-Match` names its ETag, or
    (without `If-None-Match`) when it has not changed since `If-Modified-Since`."""
    found = await service.get_team(database, team_id)
    if is_current(found.team, request):
        return not_modified(found.team)
    return team_response(found.team, found.heroes)


@router.patch("/{team_id:row_id}", response_model=TeamPublic, **openapi.UPDATE)
async def update_team(
    team_id: TeamId,
    changes: TeamUpdate,
    database: DatabaseDep,
    options: OptionsDep,
    request: Request,
) -> Response:
    """Change only the fields sent; neither may be null. A name another team has is 409.
    With `If-Match`, the change happens only if the team still has that ETag (else 412
    with the current one). With `Idempotency-Key`, a retry gets the first answer again."""
    expected = write_preconditions(
        request, team_id, required=options.require_if_match, version_max=TEAMS.version_max
    )
    writer = await writer_of(request, database)
    expected = owned_by(expected, writer.owner)
    origin = origin_of(request, writer.user_id)
    write = partial(service.update_team, database, team_id, changes, expected, origin=origin)
    once = Once(write, team_response, stored_team)
    return await respond_once(request, options, database, once)


@router.delete("/{team_id:row_id}", **openapi.DELETE)
async def delete_team(
    team_id: TeamId,
    database: DatabaseDep,
    options: OptionsDep,
    request: Request,
) -> Deleted:
    """Delete the team for good, releasing its heroes in the same transaction: their
    `team_id` becomes null and their ETags change. 404 if there is none; with
    `If-Match`, only if the team still has that ETag (else 412)."""
    expected = write_preconditions(
        request, team_id, required=options.require_if_match, version_max=TEAMS.version_max
    )
    writer = await writer_of(request, database)
    expected = owned_by(expected, writer.owner)
    origin = origin_of(request, writer.user_id)
    await service.delete_team(database, team_id, expected, origin=origin)
    return Deleted()


@router.get("/{team_id}/history", response_model=list[TeamChange], **openapi.HISTORY)
async def read_team_history(team_id: TeamId, database: DatabaseDep, request: Request) -> Response:
    """Every recorded version of the team, oldest first, a deleted team's included: each
    change (`heroes` among its changed fields when one of its heroes joined, left or
    changed), the team's public state after it, when, and by whom. Paged by the `Link`
    header's cursors, as lists are. 404 if the team never existed."""
    listing = TEAM_HISTORY.read(request, team_id)
    changes = await service.team_history(database, team_id, listing.query)
    return TEAM_HISTORY.response(listing, changes)


@router.post("/{team_id}/restore", response_model=TeamPublic, **openapi.RESTORE)
async def restore_team(
    team_id: TeamId,
    database: DatabaseDep,
    options: OptionsDep,
    request: Request,
    restore: Annotated[RestoreRequest, Body()] = NO_VERSION,
) -> Response:
    """Bring back the team as it was at `version` (from its history), as a new version;
    a deleted team comes back under its id, without the heroes its deletion released.
    Without a version, a deleted team's last state. 409 if its name was taken meanwhile.
    `If-Match` as for PATCH; with `Idempotency-Key`, a retry gets the first answer again."""
    expected = write_preconditions(
        request, team_id, required=options.require_if_match, version_max=TEAMS.version_max
    )
    writer = await writer_of(request, database)
    expected = owned_by(expected, writer.owner)
    origin = origin_of(request, writer.user_id)
    write = partial(
        service.restore_team, database, team_id, restore.version, expected, origin=origin
    )
    once = Once(write, team_response, stored_team)
    return await respond_once(request, options, database, once)


@router.post("/batch", response_model=BatchResults, **openapi.BATCH)
async def write_teams(
    batch: TeamBatch, database: DatabaseDep, options: OptionsDep, request: Request
) -> Response:
    """Create and change up to 1,000 teams in one request, as heroes' batch does: an item
    without `id` is created, one with `id` changes that team (only if still at `version`
    when one is sent). A taken name refuses its item with 409."""
    writer = await writer_of(request, database)
    author = Author(writer.user_id, writer.owner, options.require_if_match)
    origin = origin_of(request, writer.user_id)
    write = partial(service.write_teams, database, batch, author, origin=origin)
    return await respond_batch(request, options, database, batch, write)
