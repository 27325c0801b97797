"""The hero routes: the tutorial's five, each reading its request and calling the service.

Routes are `async def` and await the service: the data-access layer decides, per backend,
what runs on the event loop and what on a thread (app/db/backends.py, bench/PROFILE.md).
"""

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response

from app.auth.policy import writer_of
from app.db import Database
from app.heroes import openapi, service
from app.heroes.models import HeroBatch, HeroCreate, HeroPublic, HeroUpdate, StoredHero
from app.heroes.openapi import HeroId
from app.heroes.resource import (
    HERO_HISTORY,
    HEROES,
    HEROES_LIST,
    ExpandedTeam,
    HeroChange,
    hero_response,
    list_body,
    shape_to_read,
    stored_hero,
    team_ids,
)
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
from app.kit.validators import embedding, is_current, not_modified, write_preconditions
from app.teams import service as teams

router = APIRouter(
    prefix="/heroes", tags=["heroes"], route_class=StrictJSONRoute, **openapi.ROUTER
)
HeroesPage = Annotated[ListRequest, Depends(HEROES_LIST.dependency)]


@router.post("/", response_model=HeroPublic, **openapi.CREATE)
async def create_hero(
    hero: HeroCreate, database: DatabaseDep, options: OptionsDep, request: Request
) -> Response:
    """Create a hero and answer it with its new id, its `ETag`, `Last-Modified`, and its
    URL in `Location`. The status is 200, as the tutorial's clients expect.

    Any `id` in the body, and any unknown field, is ignored: the service assigns the id.
    `secret_name` is stored and never returned. With `Idempotency-Key`, a retry creates
    no second hero: it gets the first answer again.
    """

    def created(hero: StoredHero) -> Response:
        location = str(request.url_for("read_hero", hero_id=hero.id))
        return hero_response(hero, location=location)

    writer = await writer_of(request, database)
    origin = origin_of(request, writer.user_id)
    write = partial(service.create_hero, database, hero, owner_id=writer.user_id, origin=origin)
    return await respond_once(request, options, database, Once(write, created, stored_hero))


@router.get("/", response_model=list[HeroPublic], **openapi.LIST)
async def list_heroes(listing: HeroesPage, database: DatabaseDep) -> FastJSONResponse:
    """Heroes that match every filter given, in the order `sort` asks (default: `id`), a
    page at a time: by `offset`, or by the cursors of the `Link` header's `next` and
    `prev` links (RFC 8288). Without new parameters, the tutorial's list as before.

    Send `Prefer: count=exact` for `X-Total-Count`, the number of heroes the filters
    match. Unknown parameters, sort keys given twice or unknown, and cursors that were
    changed or made for other filters or another sort are 422, naming what is allowed.
    """
    page = await service.list_heroes(database, listing.query)
    embedded = (
        await teams.team_bodies(database, team_ids(page.rows)) if listing.query.expand else None
    )
    return page_response(
        listing, page, HEROES.key_places, list_body(listing.query.extra, embedded)
    )


@router.get("/{hero_id:row_id}", response_model=HeroPublic, **openapi.READ)
async def read_hero(hero_id: HeroId, database: DatabaseDep, request: Request) -> Response:
    """The hero with this id, or 404 if there is none, with its `ETag` and `Last-Modified`;
    `fields` adds its team's id and its timestamps to the body, `expand=team` its team
    (whose changes then change the ETag too). 304 without a body when `If-None-Match`
    names its ETag, or (without `If-None-Match`) when it has not changed since
    `If-Modified-Since`."""
    shape = shape_to_read(request)
    hero = await service.get_hero(database, hero_id)
    team = await _team_of(database, hero.team_id) if shape.expand_team else None
    current = hero if team is None or team.row is None else embedding(hero, team.row)
    if is_current(current, request):
        return not_modified(current)
    return hero_response(hero, shape.extra, team=team)


@router.patch("/{hero_id:row_id}", response_model=HeroPublic, **openapi.UPDATE)
async def update_hero(
    hero_id: HeroId,
    changes: HeroUpdate,
    database: DatabaseDep,
    options: OptionsDep,
    request: Request,
) -> Response:
    """Change only the fields sent: `{"age": null}` clears the age, `{}` changes nothing.

    `name` and `secret_name` may be left out but not set to null. A change bumps the
    hero's ETag and moves `Last-Modified`. With `If-Match`, the change happens only if the
    hero still has that ETag (else 412 with the current one): no lost updates. With
    `Idempotency-Key`, a retry gets the first answer again.
    """
    expected = write_preconditions(
        request, hero_id, required=options.require_if_match, version_max=HEROES.version_max
    )
    writer = await writer_of(request, database)
    expected = owned_by(expected, writer.owner)
    origin = origin_of(request, writer.user_id)
    write = partial(service.update_hero, database, hero_id, changes, expected, origin=origin)
    once = Once(write, hero_response, stored_hero)
    return await respond_once(request, options, database, once)


@router.delete("/{hero_id:row_id}", **openapi.DELETE)
async def delete_hero(
    hero_id: HeroId,
    database: DatabaseDep,
    options: OptionsDep,
    request: Request,
) -> Deleted:
    """Delete the hero with this id for good; 404 if there is none. With `If-Match`, only
    if the hero still has that ETag (else 412 with the current one)."""
    expected = write_preconditions(
        request, hero_id, required=options.require_if_match, version_max=HEROES.version_max
    )
    writer = await writer_of(request, database)
    expected = owned_by(expected, writer.owner)
    origin = origin_of(request, writer.user_id)
    await service.delete_hero(database, hero_id, expected, origin=origin)
    return Deleted()


@router.get("/{hero_id}/history", response_model=list[HeroChange], **openapi.HISTORY)
async def read_hero_history(hero_id: HeroId, database: DatabaseDep, request: Request) -> Response:
    """Every recorded version of the hero, oldest first, a deleted hero's included: what
    each change was (`create`, `update`, `delete`, `restore`), the hero's public state
    after it (`data`, its team included; never its secret_name), when, and by whom. Paged
    by the `Link` header's cursors, as lists are. 404 if the hero never existed; a hero
    unchanged since before changes were recorded has an empty history."""
    listing = HERO_HISTORY.read(request, hero_id)
    changes = await service.hero_history(database, hero_id, listing.query)
    return HERO_HISTORY.response(listing, changes)


@router.post("/{hero_id}/restore", response_model=HeroPublic, **openapi.RESTORE)
async def restore_hero(
    hero_id: HeroId,
    database: DatabaseDep,
    options: OptionsDep,
    request: Request,
    restore: Annotated[RestoreRequest, Body()] = NO_VERSION,
) -> Response:
    """Bring back the hero as it was at `version` (from its history), as a new version;
    a deleted hero comes back under its id, its secret_name included. Without a version,
    a deleted hero's last state. Answers the hero as PATCH does. `If-Match` as for PATCH;
    a deleted hero's ETag is its deletion's version. A team that is gone is not rejoined.
    With `Idempotency-Key`, a retry gets the first answer again."""
    expected = write_preconditions(
        request, hero_id, required=options.require_if_match, version_max=HEROES.version_max
    )
    writer = await writer_of(request, database)
    expected = owned_by(expected, writer.owner)
    origin = origin_of(request, writer.user_id)
    write = partial(
        service.restore_hero, database, hero_id, restore.version, expected, origin=origin
    )
    once = Once(write, hero_response, stored_hero)
    return await respond_once(request, options, database, once)


@router.post("/batch", response_model=BatchResults, **openapi.BATCH)
async def write_heroes(
    batch: HeroBatch, database: DatabaseDep, options: OptionsDep, request: Request
) -> Response:
    """Create and change up to 1,000 heroes in one request: an item without `id` is
    created (HeroCreate's fields), an item with `id` changes that hero (HeroUpdate's
    fields), only if it is still at `version` when one is sent.

    `atomic` (the default): all items are written or none; an answer other than 200 names
    each item that failed by its index. `atomic: false`: each item is written or refused on
    its own, and `results` says which, in order. One `Idempotency-Key` covers the batch."""
    writer = await writer_of(request, database)
    author = Author(writer.user_id, writer.owner, options.require_if_match)
    origin = origin_of(request, writer.user_id)
    write = partial(service.write_heroes, database, batch, author, origin=origin)
    return await respond_batch(request, options, database, batch, write)


async def _team_of(database: Database, team_id: int | None) -> ExpandedTeam:
    """A hero's team for `?expand=team` on GET one (none without one)."""
    team = await teams.find_team(database, team_id) if team_id is not None else None
    return ExpandedTeam(team, {team.id: team.public_body()} if team else {})
