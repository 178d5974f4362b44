"""create_app(settings): routers, error handlers, middleware and the lifespan of the process's runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from twinbridge import __version__
from twinbridge.auth.endpoints import router as issuer_router
from twinbridge.config import Settings
from twinbridge.export import fast_reads as export_fast_reads
from twinbridge.export.endpoints import router as export_router
from twinbridge.imodels.endpoints import router as imodels_router
from twinbridge.itwins.endpoints import router as itwins_router
from twinbridge.operations.endpoints import router as operations_router
from twinbridge.platform.fast_reads import FastReadMiddleware
from twinbridge.platform.handlers import install_error_handlers
from twinbridge.platform.observability import RequestContextMiddleware
from twinbridge.platform.paths import FixedWordsCaseInsensitive
from twinbridge.runs.embedded import EmbeddedWorkers
from twinbridge.runs.queue import InProcessRunQueue
from twinbridge.runtime import Runtime
from twinbridge.storage.endpoints import router as storage_router
from twinbridge.synchronization.endpoints import router as synchronization_router


def create_app(settings: Settings, runtime: Runtime | None = None, run_workers: bool = False) -> FastAPI:
    """Builds the ASGI app. Migrations are not run here: `serve` runs them before it starts the app.

    With `run_workers` (the embedded mode of `serve`), the app starts its run worker processes.
    """
    runtime = runtime or Runtime.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers = EmbeddedWorkers(settings) if run_workers and settings.queue == "inprocess" else None
        if workers is not None:
            workers.start()
            runtime.run_queue = InProcessRunQueue(workers.wake)
        try:
            yield
        finally:
            if workers is not None:
                await asyncio.to_thread(workers.stop)
            await runtime.aclose()

    app = FastAPI(
        title="twinbridge",
        version=__version__,
        summary="Self-hosted iTwin Platform Export and Synchronization APIs",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        # Our own request logs and Prometheus metrics observe requests; FastAPI's OpenTelemetry bridge would
        # only look up providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    routers = (
        operations_router,
        issuer_router,
        itwins_router,
        imodels_router,
        storage_router,
        export_router,
        synchronization_router,
    )
    for router in routers:
        app.include_router(router)
    # Innermost: fast reads see normalized paths, and their answers are logged and counted like any other.
    app.add_middleware(FastReadMiddleware, runtime=runtime, reads=export_fast_reads.FAST_READS)
    app.add_middleware(FixedWordsCaseInsensitive)
    app.add_middleware(RequestContextMiddleware, metrics=runtime.metrics)
    return app
