"""Executing a synchronization run in a worker: fetch the source files, run the connectors, and write a new
snapshot version of the iModel.

Phases: Preprocessor (fetching), MasterFile (the connectors), then Finalizing. Files are grouped into one
job per connector type. Only the IFC connector exists here; tasks of every other connector type end with an
error that says so. A failed run writes no version: the previous one stays current; nor does a run in
which nothing changed (it succeeds, and its reports say so).

Manifest files are fetched through the guarded outbound client (platform.outbound) into the run's own
workspace, under names made safe from the caller's (`.`, `..` or a 300-character name are names, not paths).

The flags of the connection's configuration (then its iModel's, then its iTwin's) are read when the run
starts: ignoreIfcGlobalIds, clampZExtent and enableFileNamePolicy change what the IFC connector does.

Each task writes a diagnostic report (synchronization.reports) in the transaction that completes the run:
its file's counts, every warning and skipped product, whether a version was written, the phases' timings.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from twinbridge.auth.grants import GrantService
from twinbridge.db.models import Run, Task
from twinbridge.imodels.repository import IModelRepository
from twinbridge.imodels.service import IModelService
from twinbridge.platform.disk import is_disk_full
from twinbridge.platform.outbound import OutboundError
from twinbridge.platform.time import format_timestamp, utc_now
from twinbridge.runs.repository import RunRepository
from twinbridge.runs.service import finish
from twinbridge.runs.states import ExecutionResult, ExecutionState, JobPhase, RunKind
from twinbridge.runs.task_errors import (
    USER_NOT_AUTHENTICATED,
    canceled_on_request,
    run_timed_out,
    task_error,
    without_server_paths,
)
from twinbridge.runs.worker import WorkerContext
from twinbridge.runs.workspace import local_file_name, run_workspace
from twinbridge.storage.service import FileNotFound, StorageService
from twinbridge.synchronization.configurations.flags import CLAMPED_Z_EXTENT, RunFlags
from twinbridge.synchronization.configurations.service import ConfigurationService
from twinbridge.synchronization.reports.content import REPORT_VERSION
from twinbridge.synchronization.reports.service import ReportService

if TYPE_CHECKING:
    from twinbridge.engines.connectors import FileSyncReport, SyncReport

logger = structlog.get_logger(__name__)

# Connectors by connectorType, as "module:function", imported when a run first needs one.
CONNECTORS = {"IFC": "twinbridge.engines.connectors:synchronize_ifc"}


@dataclass
class TaskOutcome:
    result: ExecutionResult
    error: dict[str, Any] | None = None
    details: dict[str, Any] | None = None
    # What the connector did with the task's file, for its diagnostic report.
    file: FileSyncReport | None = None


@dataclass(frozen=True)
class TaskFile:
    source_id: str  # the storage file id, or the manifest's document id
    connector_type: str
    name: str
    url: str | None  # manifest runs fetch from a URL; storage runs read the server's storage
    # Provenance key handed to the connector: stable across runs (the mapping id of a storage connection
    # survives replacing its storage file), so re-synchronizing updates elements instead of duplicating them.
    # With enableFileNamePolicy the key is the file's name instead.
    key: str
    # The key the file has under the other enableFileNamePolicy: its elements there are deleted, once,
    # when the policy changed.
    previous_key: str | None = None
    # A manifest run's action for the file: "bridge" synchronizes it, "unmap" deletes its elements.
    action: str = "bridge"
    # The manifest's documentAttribute for the file ({className, properties}) and its schema's URL.
    document_attribute: dict[str, Any] | None = None
    document_attribute_schema_url: str | None = None

    @property
    def link_document(self) -> dict[str, Any] | None:
        """What the file's RepositoryLink keeps of its documentAttribute: as given, with the schema's URL."""
        if self.document_attribute is None:
            return None
        if self.document_attribute_schema_url is None:
            return self.document_attribute
        return {**self.document_attribute, "schemaUrl": self.document_attribute_schema_url}

    @property
    def unmapped(self) -> bool:
        return self.action == "unmap"


@dataclass
class SyncPlan:
    kind: str
    itwin_id: str
    imodel_id: str
    requested_by: str
    base_version: Path | None
    tasks: dict[str, TaskFile] = field(default_factory=dict)
    flags: RunFlags = field(default_factory=RunFlags)
    # The base version's schema states before and after the connector upgraded them; None when up to date.
    schema_upgrade: dict[str, str] | None = None
    # Set when the connectors ran and changed nothing: the run writes no version, and its reports say so.
    unchanged: bool = False
    # Seconds per phase and task, for the diagnostic reports: preprocessor (fetching), masterFile (the
    # connector: reading the file, and writing the new version for all files), finalizing.
    timings: dict[str, dict[str, float]] = field(default_factory=dict)


# A task's details list its first issues; the diagnostic report keeps them all.
ISSUES_IN_TASK_DETAILS = 100
SOURCE_FILE_LIMIT_BYTES = 2 * 1024**3


def _report(errors: int = 0, warnings: int = 0, message: str = "") -> dict[str, Any]:
    return {
        "synchronizationReport": {
            "suggestedAction": "Error" if errors else ("Warning" if warnings else "None"),
            "message": message,
            "totalErrorsCount": errors,
            "totalWarningsCount": warnings,
            "totalOtherIssuesCount": 0,
        }
    }


def _file_outcome(file: FileSyncReport) -> TaskOutcome:
    """A file's counts and issues in its task's details; a file with issues ends PartialSuccess.

    `synchronizationReport` is upstream's; `elements` and `warnings` are twinbridge's additions (an added
    response field is a non-breaking change in the platform's versioning policy).
    """
    issues = [issue.as_dict() for issue in file.issues]
    summary = (
        f"{file.inserted} inserted, {file.updated} updated, {file.deleted} deleted, "
        f"{file.unchanged} unchanged, {len(issues)} warning{'s' if len(issues) != 1 else ''}"
    )
    details = _report(warnings=len(issues), message=summary)
    details["elements"] = {
        "products": file.products,
        "inserted": file.inserted,
        "updated": file.updated,
        "deleted": file.deleted,
        "unchanged": file.unchanged,
    }
    details["warnings"] = issues[:ISSUES_IN_TASK_DETAILS]
    if len(issues) > ISSUES_IN_TASK_DETAILS:
        details["warningsOmitted"] = len(issues) - ISSUES_IN_TASK_DETAILS
    result = ExecutionResult.PARTIAL_SUCCESS if issues else ExecutionResult.SUCCESS
    return TaskOutcome(result, None, details, file)


def _no_connector(connector_type: str) -> TaskOutcome:
    return TaskOutcome(
        ExecutionResult.ERROR,
        task_error(
            code="ConnectorNotAvailable",
            message="Failed to process the file.",
            details=f"This server has no connector for connectorType {connector_type}; "
            "it synchronizes IFC files only.",
            description_key="ConnectorNotAvailable",
            description=f"No {connector_type} connector on this server.",
            can_user_fix=False,
            system="twinbridge",
            phase="preprocessor",
        ),
        _report(errors=1),
    )


def _fetch_failed(reason: str) -> TaskOutcome:
    return TaskOutcome(
        ExecutionResult.ERROR,
        task_error(
            code="SourceFileDownloadFailed",
            message="The source file could not be fetched.",
            details=reason,
            description_key="SourceFileDownloadFailed",
            description="The source file could not be fetched.",
            can_user_fix=True,
            phase="preprocessor",
        ),
        _report(errors=1),
    )


async def _set_phase(context: WorkerContext, run_id: str, phase: JobPhase) -> None:
    async with context.runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        if run is not None and run.worker_id == context.worker_id:
            run.phase = phase.value
            await runs.save(run)


async def _start(context: WorkerContext, run_id: str) -> SyncPlan | None:
    """Marks the run executing and resolves what to fetch; None when the run ended already (no grant)."""
    async with context.runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        if run is None:
            return None
        now = utc_now()
        run.phase = JobPhase.PREPROCESSOR.value
        for job in run.jobs:
            job.state = ExecutionState.EXECUTING.value
            job.started_at = job.started_at or now
            for task in job.tasks:
                task.state = ExecutionState.EXECUTING.value
                task.started_at = now
                task.retry_attempts = max(run.attempts - 1, 0)
        if run.authentication_type == "User" and not await GrantService(transaction).is_authorized(
            run.requested_by
        ):
            finish(
                run,
                ExecutionResult.ERROR,
                task_error=task_error(
                    code="UserNotAuthenticated",
                    message="User is not authenticated.",
                    details=f"User '{run.requested_by}' has not authorized background runs. Call "
                    "GET /synchronization/imodels/connections/authorizationinformation and open its "
                    "authorizationUrl, then run again.",
                    description_key="UserNotAuthenticated",
                    description="User is not authenticated.",
                    can_user_fix=True,
                    phase="authorization",
                ),
                run_error=USER_NOT_AUTHENTICATED,
            )
            await runs.save(run)
            return None
        await runs.save(run)
        imodel = await IModelRepository(transaction).get(run.imodel_id)
        assert imodel is not None
        latest = await IModelRepository(transaction).latest_version(run.imodel_id)
        base = await asyncio.to_thread(context.runtime.blobs.local_path, latest.blob_key) if latest else None
        flags = await ConfigurationService(transaction).run_flags(run.connection_id)
        return SyncPlan(
            kind=run.kind,
            itwin_id=imodel.itwin_id,
            imodel_id=imodel.id,
            requested_by=run.requested_by,
            base_version=base,
            tasks=_task_files(run, flags),
            flags=flags,
        )


def _task_files(run: Run, flags: RunFlags) -> dict[str, TaskFile]:
    files = {file["id"]: file for file in run.options.get("files", [])}
    tasks = {}
    for job in run.jobs:
        for task in job.tasks:
            source_id = task.source_file_id or ""
            file = files.get(source_id, {})
            name = file.get("name") or source_id or "source"
            mapping_key = file.get("key") or source_id
            key, previous = (name, mapping_key) if flags.key_files_by_name else (mapping_key, name)
            tasks[task.id] = TaskFile(
                source_id=source_id,
                connector_type=job.connector_type or "",
                name=name,
                url=file.get("url"),
                key=key,
                previous_key=previous if previous != key else None,
                action=str(file.get("action") or "bridge"),
                document_attribute=file.get("documentAttribute"),
                document_attribute_schema_url=file.get("documentAttributeSchemaUrl"),
            )
    return tasks


async def _fetch(context: WorkerContext, plan: SyncPlan, task_id: str, directory: Path) -> Path | TaskOutcome:
    file = plan.tasks[task_id]
    source_id, url = file.source_id, file.url
    target = directory / task_id / local_file_name(file.name, "source")
    target.parent.mkdir(parents=True)
    if url is not None:
        try:
            await context.runtime.outbound.download(
                url, target, max_bytes=SOURCE_FILE_LIMIT_BYTES, keep_free=context.settings.min_free_disk
            )
        except OutboundError as failure:
            return _fetch_failed(str(failure))
        return target
    async with context.runtime.database.transaction() as transaction:
        try:
            return await StorageService(transaction, context.runtime.blobs).local_path(
                source_id, itwin_id=plan.itwin_id
            )
        except FileNotFound:
            return _fetch_failed(f"The storage file '{source_id}' no longer exists.")


def _connector(connector_type: str) -> Callable[..., Any]:
    module, _, function = CONNECTORS[connector_type].partition(":")
    connector: Callable[..., Any] = getattr(importlib.import_module(module), function)
    return connector


def _unmapped_keys(plan: SyncPlan, files: dict[str, Path], unmapped: list[str]) -> list[list[str]]:
    """Per unmapped task, the keys whose elements go: its key, and its key under the other file-name
    policy (unless a file of the run is synchronized under it)."""
    synchronized = {plan.tasks[task_id].key for task_id in files}
    synchronized |= {plan.tasks[task_id].previous_key or "" for task_id in files}
    taken: set[str] = set()
    keys = []
    for task_id in unmapped:
        task = plan.tasks[task_id]
        own = [key for key in (task.key, task.previous_key) if key and key not in synchronized | taken]
        taken.update(own)
        keys.append(own)
    return keys


def _connect_ifc(
    context: WorkerContext, plan: SyncPlan, files: dict[str, Path], unmapped: list[str], output: Path
) -> SyncReport:
    report: SyncReport = _connector("IFC")(
        list(files.values()),
        plan.base_version,
        output,
        context.engine_pool(),
        file_keys=[plan.tasks[task_id].key for task_id in files],
        previous_keys=[plan.tasks[task_id].previous_key for task_id in files],
        ignore_global_ids=plan.flags.ignore_ifc_global_ids,
        clamp_z=CLAMPED_Z_EXTENT if plan.flags.clamp_z_extent else None,
        unmapped_keys=[key for keys in _unmapped_keys(plan, files, unmapped) for key in keys],
        document_attributes=[plan.tasks[task_id].link_document for task_id in files],
    )
    return report


def _unmap_outcome(deleted: int) -> TaskOutcome:
    """An unmapped file's task: its elements deleted, nothing read."""
    details = _report(message=f"The file was unmapped: {deleted} deleted.")
    details["elements"] = {"products": 0, "inserted": 0, "updated": 0, "deleted": deleted, "unchanged": 0}
    details["warnings"] = []
    return TaskOutcome(ExecutionResult.SUCCESS, None, details)


def _same_names(plan: SyncPlan, files: dict[str, Path]) -> dict[str, TaskOutcome]:
    """Under enableFileNamePolicy a file's name is its key: files of one run that share a name cannot be
    told apart, and their tasks fail, naming it (none of them is synchronized)."""
    by_key: dict[str, list[str]] = {}
    for task_id in files:
        by_key.setdefault(plan.tasks[task_id].key, []).append(task_id)
    outcomes = {}
    for key, task_ids in by_key.items():
        if len(task_ids) < 2:
            continue
        error = task_error(
            code="FileNameNotUnique",
            message="Failed to process the file.",
            details=f"{len(task_ids)} files of this run are named '{key}'; with enableFileNamePolicy a "
            "file's name identifies it, so none of them was synchronized: rename them, or turn it off.",
            description_key="FileNameNotUnique",
            description="Files of one run share a name.",
            can_user_fix=True,
            phase="preprocessor",
        )
        for task_id in task_ids:
            outcomes[task_id] = TaskOutcome(ExecutionResult.ERROR, error, _report(errors=1))
    return outcomes


async def _record(
    context: WorkerContext,
    run_id: str,
    outcomes: dict[str, TaskOutcome],
    new_version: Path | None,
    plan: SyncPlan,
) -> None:
    async with context.runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        if run is None or run.worker_id != context.worker_id:
            logger.warning("run_lease_lost", run_id=run_id, worker_id=context.worker_id)
            return
        if run.cancel_requested_at is not None:  # the worker does not cancel this transaction midway
            finish(run, ExecutionResult.CANCELED, task_error=canceled_on_request())
            await runs.save(run)
            return
        finalizing = time.monotonic()
        version = None
        if new_version is not None:
            version = await IModelService(transaction, context.runtime.blobs).add_version(
                plan.imodel_id, new_version, plan.requested_by
            )
        finalizing = time.monotonic() - finalizing
        now = utc_now()
        results = []
        for job in run.jobs:
            job_results = []
            for task in job.tasks:
                outcome = outcomes[task.id]
                task.state = ExecutionState.COMPLETED.value
                task.result = outcome.result.value
                task.error = outcome.error
                task.details = outcome.details
                task.ended_at = now
                job_results.append(outcome.result)
            job.result = _overall(job_results).value
            job.state = ExecutionState.COMPLETED.value
            job.ended_at = now
            results += job_results
        finish(run, _overall(results))
        await runs.save(run)
        reports = ReportService(transaction, context.runtime.blobs)
        for job in run.jobs:
            for task in job.tasks:
                index = version.changeset_index if version else None
                content = _report_content(run, task, plan, outcomes[task.id], index, finalizing)
                await reports.store(run.id, task.id, run.imodel_id, content)


def _version_message(changeset_index: int | None, unchanged: bool) -> str:
    if changeset_index is not None:
        return f"The run wrote version {changeset_index} of the iModel (changeset {changeset_index})."
    if unchanged:
        return "Nothing changed: the run wrote no new version, the iModel is as it was."
    return "The run wrote no new version: the iModel is as it was."


def _report_content(
    run: Run,
    task: Task,
    plan: SyncPlan,
    outcome: TaskOutcome,
    changeset_index: int | None,
    finalizing_seconds: float,
) -> dict[str, Any]:
    """A task's diagnostic report: everything its details summarize, in full, with the timings."""
    task_file = plan.tasks[task.id]
    file = outcome.file
    timings = {name: round(seconds, 3) for name, seconds in plan.timings.get(task.id, {}).items()}
    timings["finalizing"] = round(finalizing_seconds, 3)
    details = outcome.details or {}
    report: dict[str, Any] = {
        "reportVersion": REPORT_VERSION,
        "runId": run.id,
        "taskId": task.id,
        "iModelId": run.imodel_id,
        "connectionId": run.connection_id,
        "createdDateTime": format_timestamp(utc_now()),
        "file": {
            "storageFileId" if run.kind == RunKind.STORAGE.value else "sourceFileId": task_file.source_id,
            "name": task_file.name,
            "connectorType": task_file.connector_type,
            "schema": file.schema if file else None,
        },
        "result": outcome.result.value,
        "message": details.get("synchronizationReport", {}).get("message", ""),
        "error": outcome.error,
        "version": {
            "written": changeset_index is not None,
            "changesetIndex": changeset_index,
            "message": _version_message(changeset_index, plan.unchanged),
        },
        "schemaUpgrade": plan.schema_upgrade,
        "elements": details.get("elements"),
        "warnings": [issue.as_dict() for issue in file.issues] if file else [],
        "skipped": [item.as_dict() for item in file.skipped] if file else [],
        "timings": timings,
    }
    if run.kind == RunKind.MANIFEST.value:  # only a manifest gives a file document properties
        report["file"]["documentAttribute"] = task_file.document_attribute
        report["file"]["documentAttributeSchemaUrl"] = task_file.document_attribute_schema_url
    return report


def _overall(results: list[ExecutionResult]) -> ExecutionResult:
    if all(result is ExecutionResult.SUCCESS for result in results):
        return ExecutionResult.SUCCESS
    if all(result is ExecutionResult.ERROR for result in results):
        return ExecutionResult.ERROR
    return ExecutionResult.PARTIAL_SUCCESS


async def execute_synchronization_run(context: WorkerContext, run_id: str) -> None:
    plan = await _start(context, run_id)
    if plan is None:
        return
    with run_workspace(context.settings, run_id) as directory:
        outcomes: dict[str, TaskOutcome] = {}
        ifc_files: dict[str, Path] = {}
        unmapped: list[str] = []
        for task_id, task_file in plan.tasks.items():
            if task_file.connector_type not in CONNECTORS:
                outcomes[task_id] = _no_connector(task_file.connector_type)
                continue
            if task_file.unmapped:
                unmapped.append(task_id)
                plan.timings[task_id] = {"preprocessor": 0.0}
                continue
            started = time.monotonic()
            fetched = await _fetch(context, plan, task_id, directory)
            plan.timings[task_id] = {"preprocessor": time.monotonic() - started}
            if isinstance(fetched, TaskOutcome):
                outcomes[task_id] = fetched
            else:
                ifc_files[task_id] = fetched
        if plan.flags.key_files_by_name:
            refused = _same_names(plan, ifc_files)
            outcomes.update(refused)
            ifc_files = {task_id: path for task_id, path in ifc_files.items() if task_id not in refused}
        new_version = None
        if ifc_files or unmapped:
            await _set_phase(context, run_id, JobPhase.MASTER_FILE)
            output = directory / "next.bim"
            started = time.monotonic()
            try:
                report = await context.cancellation.in_thread(
                    _connect_ifc, context, plan, ifc_files, unmapped, output
                )
            except Exception as failure:  # the connector's failure is the task's, stated for the user
                from twinbridge.engines.imodel.errors import EngineCrashedError

                if is_disk_full(failure) or isinstance(failure, EngineCrashedError):
                    # The server's, not the file's: the worker ends the run saying so (a full disk) or
                    # retries it on a fresh engine (a crashed one).
                    raise
                logger.warning("ifc_connector_failed", run_id=run_id, error=str(failure))
                # The user knows their file names, not our paths.
                names = {path: plan.tasks[task_id].name for task_id, path in ifc_files.items()}
                details = without_server_paths(
                    str(failure) or type(failure).__name__, context.settings.data_dir, names
                )
                error = _connector_failure(failure, details)
                for task_id in [*ifc_files, *unmapped]:
                    outcomes[task_id] = TaskOutcome(ExecutionResult.ERROR, error, _report(errors=1))
                    plan.timings[task_id]["masterFile"] = time.monotonic() - started
            else:
                # Nothing changed: the run succeeds without a new version (which would be the same iModel).
                new_version = output if report.changed else None
                plan.unchanged = not report.changed
                plan.schema_upgrade = report.schema_upgrade
                for task_id, file_report in zip(ifc_files, report.files, strict=True):
                    outcomes[task_id] = _file_outcome(file_report)
                    plan.timings[task_id].update(
                        {
                            "masterFile": time.monotonic() - started,
                            "readingFile": file_report.read_seconds,
                            "writingVersion": report.write_seconds,
                        }
                    )
                removed = iter(report.unmapped)
                for task_id, keys in zip(unmapped, _unmapped_keys(plan, ifc_files, unmapped), strict=True):
                    outcomes[task_id] = _unmap_outcome(sum(next(removed).deleted for _ in keys))
                    plan.timings[task_id].update(
                        {"masterFile": time.monotonic() - started, "writingVersion": report.write_seconds}
                    )
        with context.cancellation.finalizing():
            await _record(context, run_id, outcomes, new_version, plan)


def _connector_failure(failure: Exception, details: str) -> dict[str, Any]:
    """The task error of a connector that failed: what went wrong, and what the user can do about it."""
    from twinbridge.engines.imodel import EngineError, SchemaUpgradeError  # loaded with the connector

    if isinstance(failure, SchemaUpgradeError):
        return task_error(
            code="SchemaUpgradeFailed",
            message="The iModel's schemas could not be upgraded to this server's.",
            details=f"{details}. Upgrade the iModel's profile and schemas with the iTwin.js version this "
            "server runs (StandaloneDb.upgradeStandaloneSchemas) and import it again, or synchronize into a "
            "new iModel.",
            description_key="SchemaUpgradeFailed",
            description="The iModel's schemas are not supported by this server.",
            can_user_fix=True,
            phase="preprocessor",
        )
    if isinstance(failure, EngineError) and failure.code == "SCHEMA_IMPORT_FAILED":
        return task_error(
            code="SchemaImportFailed",
            message="The IFC connector's schema could not be imported into the iModel.",
            details=f"{details}. The iModel holds a schema that conflicts with the connector's (IfcDynamic): "
            "synchronize into a new iModel, or remove the conflicting schema.",
            description_key="SchemaImportFailed",
            description="The connector's schema could not be imported.",
            can_user_fix=True,
            phase="master_file",
        )
    return task_error(
        code="ConnectorFailed",
        message="Failed to process the file.",
        details=details,
        description_key="FailedToSynchronize",
        description="The IFC connector could not process the file.",
        can_user_fix=True,
        phase="master_file",
    )


async def time_out_synchronization_run(context: WorkerContext, run_id: str) -> None:
    async with context.runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        if run is None:
            return
        finish(
            run,
            ExecutionResult.TIMED_OUT,
            task_error=run_timed_out(
                context.settings.run_timeout, "synchronization", "; the iModel was not changed"
            ),
        )
        await runs.save(run)
