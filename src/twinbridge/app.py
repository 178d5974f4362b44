"""create_app(settings): routers, error handlers, middleware and the lifespan of the process's runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from twinbridge import __version__, features
from twinbridge.config import Settings
from twinbridge.dependencies import authenticate_before_body
from twinbridge.platform.handlers import install_error_handlers
from twinbridge.platform.observability import RequestContextMiddleware
from twinbridge.platform.paths import CanonicalRequest
from twinbridge.platform.responses import FastJSONResponse
from twinbridge.platform.routing import include_routers, query_parameter_names
from twinbridge.runs.embedded import EmbeddedWorkers
from twinbridge.runs.queue import InProcessRunQueue, RunQueue
from twinbridge.runtime import Runtime


def run_queue_for(settings: Settings) -> RunQueue:
    """The queue TWINBRIDGE_QUEUE names; Celery is loaded only by processes configured for it."""
    if settings.queue == "celery":
        from twinbridge.runs.celery_app import CeleryRunQueue

        return CeleryRunQueue(settings)
    return InProcessRunQueue()


def create_app(settings: Settings, runtime: Runtime | None = None, run_workers: bool = False) -> FastAPI:
    """Builds the ASGI app. Migrations are not run here: `serve` runs them before it starts the app.

    With `run_workers` (the embedded mode of `serve`), the app starts its run worker processes.
    """
    runtime = runtime or Runtime.create(settings, run_queue_for(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers = (
            EmbeddedWorkers(settings, features.run_executors)
            if run_workers and settings.queue == "inprocess"
            else None
        )
        if workers is not None:
            workers.start()
            runtime.run_queue = InProcessRunQueue(workers.wake)
        # Loops of the features for the process's lifetime (the sender of webhook deliveries).
        services = [asyncio.create_task(service()) for service in features.background_services(runtime)]
        try:
            yield
        finally:
            for service in services:
                service.cancel()
            await asyncio.gather(*services, return_exceptions=True)
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
        default_response_class=FastJSONResponse,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    include_routers(
        app,
        features.routers(settings),
        max_body_size=settings.max_body_size,
        authenticate=authenticate_before_body,
    )
    features.add_middleware(app, settings)  # innermost: sees canonical paths, inside the request context
    app.add_middleware(CanonicalRequest, query_names=query_parameter_names(app))
    app.add_middleware(RequestContextMiddleware, metrics=runtime.metrics)
    return app
