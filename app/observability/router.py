from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from app.http.dependencies import DatabaseDep
from app.observability import metrics

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response, summary="Prometheus metrics")
async def read_metrics(database: DatabaseDep) -> Response:
    """Every worker's counters, in Prometheus' text format."""
    metrics.record_pool(database)
    body = await run_in_threadpool(metrics.render)  # reads every worker's files
    return Response(body, media_type=metrics.CONTENT_TYPE)
