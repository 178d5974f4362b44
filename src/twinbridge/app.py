"""create_app(settings): routers, error handlers, middleware and the lifespan of the process's runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from twinbridge import __version__
from twinbridge.auth.endpoints import router as issuer_router
from twinbridge.config import Settings
from twinbridge.imodels.endpoints import router as imodels_router
from twinbridge.itwins.endpoints import router as itwins_router
from twinbridge.operations.endpoints import router as operations_router
from twinbridge.platform.handlers import install_error_handlers
from twinbridge.platform.observability import RequestContextMiddleware
from twinbridge.runtime import Runtime


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """Builds the ASGI app. Migrations are not run here: `serve` runs them before it starts the app."""
    runtime = runtime or Runtime.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await runtime.aclose()

    app = FastAPI(
        title="twinbridge",
        version=__version__,
        summary="Self-hosted iTwin Platform Export and Synchronization APIs",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    for router in (operations_router, issuer_router, itwins_router, imodels_router):
        app.include_router(router)
    app.add_middleware(RequestContextMiddleware, metrics=runtime.metrics)
    return app
