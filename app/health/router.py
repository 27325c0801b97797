from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.core.db import get_engine
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
async def readyz(request: Request) -> Health:
    """Ready when the database answers a round trip; 503 while it cannot."""
    await run_in_threadpool(service.check_database, get_engine(request.app))
    return Health(status="ready")
