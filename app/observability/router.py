from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from app.core.database import get_database
from app.observability import metrics

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response, summary="Prometheus metrics")
async def read_metrics(request: Request) -> Response:
    """Every worker's counters, in Prometheus' text format."""
    metrics.record_pool(await get_database(request))
    body = await run_in_threadpool(metrics.render)  # reads every worker's files
    return Response(body, media_type=metrics.CONTENT_TYPE)
