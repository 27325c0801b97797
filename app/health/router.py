from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from app.db import DatabaseUnavailable
from app.health import service
from app.http.dependencies import DatabaseDep
from app.http.errors import declare

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok", "ready"]


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Health:
    """Touches no database: a failing database must not get the process restarted."""
    return Health(status="ok")


@router.get("/readyz", responses=declare(DatabaseUnavailable), summary="Readiness")
async def readyz(database: DatabaseDep) -> Health:
    """Ready when the database answers a round trip with the schema this code needs; 503
    while it cannot, or its tables are gone or at another revision."""
    await service.check_database(database)
    return Health(status="ready")
