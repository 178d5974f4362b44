"""Health and Prometheus metrics; neither needs a token."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from twinbridge import __version__
from twinbridge.dependencies import RuntimeDependency

router = APIRouter(tags=["Operations"])


@router.get("/health", responses={503: {"description": "The database does not answer."}})
async def health(runtime: RuntimeDependency) -> JSONResponse:
    try:
        await runtime.database.ping()
        database = "ok"
    except Exception as failure:  # reported, not raised: health must answer even when the database is down
        database = f"error: {type(failure).__name__}"
    body = {"status": "ok" if database == "ok" else "degraded", "version": __version__, "database": database}
    return JSONResponse(body, status_code=200 if database == "ok" else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(runtime: RuntimeDependency) -> Response:
    content, media_type = runtime.metrics.render()
    return Response(content, media_type=media_type)
