from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from app.core.database import DatabaseDep
from app.core.errors import DatabaseUnavailable
from app.health import service

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok", "ready"]


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Health:
    """Touches no database: a failing database must not get the process restarted."""
    return Health(status="ok")


@router.get("/readyz", responses=DatabaseUnavailable.responses(), summary="Readiness")
async def readyz(database: DatabaseDep) -> Health:
    """Ready when the database answers a round trip; 503 while it cannot."""
    await service.check_database(database)
    return Health(status="ready")
