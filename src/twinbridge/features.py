"""The features of the server put together: their routers, how they execute runs, what they do when a run
completes, and the background services of the API process.

The infrastructure (platform, db, runs, engines) never imports a feature; this is where features meet it.
`create_app` takes the routers and `background_services`, and the processes that execute runs take
`run_executors` (by name: the function travels to spawned and Celery worker processes). Both register the
run completion hooks, as both complete runs.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from twinbridge.imodels.deletion import on_imodel_deleted
from twinbridge.runs.completion import on_run_completed
from twinbridge.runs.states import RunKind
from twinbridge.runs.worker import RunExecutors

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

    from twinbridge.config import Settings
    from twinbridge.runtime import Runtime

BackgroundService = Callable[[], Coroutine[Any, Any, None]]


def register_run_completion_hooks() -> None:
    """Webhooks record their deliveries in the transaction that completes a run (an outbox)."""
    from twinbridge.webhooks.events import record_run_completion

    on_run_completed(record_run_completion)


def register_imodel_deletion_hooks() -> None:
    """Synchronization runs keep diagnostic reports for an iModel, whose blobs go with it."""
    from twinbridge.synchronization.reports.repository import report_blob_keys_of_imodel

    on_imodel_deleted(report_blob_keys_of_imodel)


def background_services(runtime: Runtime) -> list[BackgroundService]:
    """Loops the API process runs for its lifetime: the sender of webhook deliveries."""
    from twinbridge.webhooks.delivery import WebhookSender

    return [WebhookSender(runtime).run_forever]


def routers(settings: Settings) -> list[APIRouter]:
    """Every feature's router; the control API's only when TWINBRIDGE_CONTROL_API enables it, so that
    otherwise its paths are unknown ones (404) and absent from the OpenAPI document."""
    from twinbridge.auth.endpoints import router as issuer_router
    from twinbridge.console.endpoints import router as console_router
    from twinbridge.export.endpoints import router as export_router
    from twinbridge.imodels.endpoints import router as imodels_router
    from twinbridge.itwins.endpoints import router as itwins_router
    from twinbridge.operations.endpoints import router as operations_router
    from twinbridge.storage.endpoints import router as storage_router
    from twinbridge.synchronization.configurations.endpoints import router as configurations_router
    from twinbridge.synchronization.endpoints import router as synchronization_router
    from twinbridge.synchronization.reports.endpoints import router as reports_router
    from twinbridge.webhooks.endpoints import router as webhooks_router

    register_run_completion_hooks()  # the API process completes runs too (e.g. one cancelled while queued)
    register_imodel_deletion_hooks()  # iModels are deleted through the API (and the control API's reset)
    return [
        operations_router,
        *(control_routers() if settings.control_api else []),
        issuer_router,
        itwins_router,
        imodels_router,
        storage_router,
        export_router,
        configurations_router,  # before /synchronization, whose prefix also matches its paths
        reports_router,  # likewise
        synchronization_router,
        webhooks_router,
        console_router,  # /console: the web console's files, not API operations (absent from OpenAPI)
    ]


def control_routers() -> list[APIRouter]:
    from twinbridge.control.faults.endpoints import router as faults_router
    from twinbridge.control.journal.endpoints import router as journal_router
    from twinbridge.control.scripts.endpoints import router as scripts_router
    from twinbridge.control.state.endpoints import router as state_router

    return [
        faults_router,  # prefix /_twinbridge/faults: before any router of the whole /_twinbridge prefix
        journal_router,  # prefix /_twinbridge/journal: likewise
        state_router,  # /_twinbridge/reset and /snapshots: no prefix, before routers of all /_twinbridge
        scripts_router,  # /_twinbridge/scripts and /_twinbridge/holds
    ]


def add_middleware(app: FastAPI, settings: Settings) -> None:
    """Middleware of features that see every request, added inside the platform's; only what a setting
    enables, so that a normal server's requests pass through none of it."""
    if settings.control_api:
        from twinbridge.control.middleware import install

        install(app, settings)  # faults and the request journal


def run_executors() -> RunExecutors:
    """Imported when first called: only processes that execute runs load the engines behind them.

    Each executor is wrapped by the control API's scripted runs, which decide per run whether it follows a
    script (a rule, or TWINBRIDGE_SCRIPTED_RUNS_ONLY) or does the work.
    """
    from twinbridge.control.scripts.execution import with_scripts
    from twinbridge.export.execution import execute_export_run, time_out_export_run
    from twinbridge.synchronization.execution import execute_synchronization_run, time_out_synchronization_run

    register_run_completion_hooks()
    return RunExecutors(
        execute={
            RunKind.EXPORT: with_scripts(execute_export_run),
            RunKind.MANIFEST: with_scripts(execute_synchronization_run),
            RunKind.STORAGE: with_scripts(execute_synchronization_run),
        },
        on_timeout={
            RunKind.EXPORT: time_out_export_run,
            RunKind.MANIFEST: time_out_synchronization_run,
            RunKind.STORAGE: time_out_synchronization_run,
        },
    )
