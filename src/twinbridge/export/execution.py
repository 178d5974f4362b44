"""Executing an export run in a worker: iModel version → IFC file in storage (and the caller's blob URL).

Transactions are short: one to start the run, one to finalize it. The export itself runs outside any
transaction, in a thread, on this worker process's long-lived engine.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog

from twinbridge.auth.grants import GrantService
from twinbridge.db.models import IModelVersion, Run
from twinbridge.imodels.repository import IModelRepository
from twinbridge.platform.time import utc_now
from twinbridge.runs.repository import RunRepository
from twinbridge.runs.service import finish
from twinbridge.runs.states import ExecutionResult, ExecutionState
from twinbridge.runs.task_errors import USER_NOT_AUTHENTICATED, task_error
from twinbridge.runs.worker import WorkerContext
from twinbridge.storage.service import FileNotFound, StorageService

logger = structlog.get_logger(__name__)

MAPPING_FILE_LIMIT_BYTES = 16 * 1024 * 1024
UPLOAD_TIMEOUT_SECONDS = 300.0


@dataclass
class ExportPlan:
    """What the run's start transaction resolved, for the work outside it."""

    itwin_id: str
    imodel_name: str
    requested_by: str
    source: Path
    ifc_version: str
    model_ids: list[str] | None
    mapping_path: Path | None
    mapping_url: str | None
    output_options: dict[str, Any]
    warnings: list[dict[str, Any]] = field(default_factory=list)


class RunFailed(Exception):
    """Ends the run with result Error and the task error given."""

    def __init__(self, error: dict[str, Any], run_error: dict[str, Any] | None = None) -> None:
        super().__init__(error.get("details", ""))
        self.error = error
        self.run_error = run_error


def _user_error(code: str, details: str, description_key: str, description: str) -> RunFailed:
    return RunFailed(
        task_error(
            code=code,
            message="Failed to export your file.",
            details=details,
            description_key=description_key,
            description=description,
            can_user_fix=True,
        )
    )


def _file_name(name: str) -> str:
    return re.sub(r"[^\w.\- ]+", "_", name).strip() or "export"


async def _start(context: WorkerContext, run_id: str) -> ExportPlan:
    runtime = context.runtime
    async with runtime.database.transaction() as transaction:
        run = await RunRepository(transaction).get(run_id)
        if run is None:
            raise LookupError(run_id)
        now = utc_now()
        job = run.jobs[0]
        task = job.tasks[0]
        job.state = task.state = ExecutionState.EXECUTING.value
        job.started_at = job.started_at or now
        task.started_at = now
        task.retry_attempts = max(run.attempts - 1, 0)
        options = run.options
        if run.authentication_type == "User" and not await GrantService(transaction).is_authorized(
            run.requested_by
        ):
            raise RunFailed(
                task_error(
                    code="UserNotAuthenticated",
                    message="User is not authenticated.",
                    details=(
                        f"User '{run.requested_by}' has not authorized background runs. Call "
                        "GET /export/authorizationinformation and open its authorizationUrl, then run again."
                    ),
                    description_key="UserNotAuthenticated",
                    description="User is not authenticated.",
                    can_user_fix=True,
                    phase="authorization",
                ),
                run_error=USER_NOT_AUTHENTICATED,
            )
        imodels = IModelRepository(transaction)
        imodel = await imodels.get(run.imodel_id)
        assert imodel is not None
        version = await _version(imodels, run, options.get("inputOptions", {}).get("changesetId"))
        input_options = options.get("inputOptions", {})
        mapping_path = None
        if input_options.get("mappingFileId"):
            try:
                mapping_path = await StorageService(transaction, runtime.blobs).local_path(
                    input_options["mappingFileId"], itwin_id=imodel.itwin_id
                )
            except FileNotFound:
                raise _user_error(
                    "MappingFileNotFound",
                    f"The mapping file '{input_options['mappingFileId']}' (inputOptions.mappingFileId) "
                    "does not exist in storage.",
                    "MappingFileNotFound",
                    "The mapping file was not found.",
                ) from None
        warnings: list[dict[str, Any]] = []
        if input_options.get("savedViewId"):
            # Saved views live in the Saved Views API, which this server does not serve. Exporting anything
            # else would give the caller more than the view they asked for: the run ends before it writes.
            raise _user_error(
                "SavedViewNotSupported",
                f"savedViewId '{input_options['savedViewId']}' cannot be applied: this server does not serve "
                "saved views, and exports nothing rather than more than the view. Run again without "
                "savedViewId, naming the view's models in inputOptions.modelIds.",
                "SavedViewNotSupported",
                "Saved views are not supported by this server.",
            )
        await RunRepository(transaction).save(run)
        return ExportPlan(
            itwin_id=imodel.itwin_id,
            imodel_name=imodel.name,
            requested_by=run.requested_by,
            source=await asyncio.to_thread(runtime.blobs.local_path, version.blob_key),
            ifc_version=options.get("ifcVersion", "IFC4.3"),
            model_ids=input_options.get("modelIds"),
            mapping_path=mapping_path,
            mapping_url=input_options.get("mappingfileBlobUrl"),
            output_options=options.get("outputOptions", {}),
            warnings=warnings,
        )


async def _version(imodels: IModelRepository, run: Run, changeset_id: str | None) -> IModelVersion:
    versions = await imodels.all_versions(run.imodel_id)
    if changeset_id is None:
        return versions[-1]
    for version in versions:
        if version.changeset_id == changeset_id:
            return version
    raise _user_error(
        "ChangesetNotFound",
        f"The iModel has no changeset '{changeset_id}' (inputOptions.changesetId). "
        "List its changesets with GET /imodels/{id}/changesets.",
        "ChangesetNotFound",
        "The requested iModel version does not exist.",
    )


async def _download_mapping(url: str, directory: Path) -> Path:
    target = directory / "mapping.json"
    try:
        async with (
            httpx.AsyncClient(timeout=30.0, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            response.raise_for_status()
            size = 0
            with target.open("wb") as handle:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAPPING_FILE_LIMIT_BYTES:
                        raise _user_error(
                            "MappingFileTooLarge",
                            f"The mapping file at {httpx.URL(url).host} is larger than "
                            f"{MAPPING_FILE_LIMIT_BYTES} bytes.",
                            "MappingFileTooLarge",
                            "The mapping file is too large.",
                        )
                    handle.write(chunk)
    except httpx.HTTPStatusError as failure:
        raise _user_error(
            "MappingFileDownloadFailed",
            f"Downloading the mapping file from {failure.request.url.host} failed with HTTP "
            f"{failure.response.status_code}.",
            "MappingFileDownloadFailed",
            "The mapping file could not be downloaded.",
        ) from None
    except httpx.HTTPError as failure:
        raise _user_error(
            "MappingFileDownloadFailed",
            f"Downloading the mapping file from {httpx.URL(url).host} failed: {failure}.",
            "MappingFileDownloadFailed",
            "The mapping file could not be downloaded.",
        ) from None
    return target


def _export(context: WorkerContext, plan: ExportPlan, destination: Path, mapping: Path | None) -> Any:
    from twinbridge.engines.ifc import IfcExportError, UnknownModelError, export_imodel_to_ifc
    from twinbridge.engines.imodel import EngineError

    try:
        return export_imodel_to_ifc(
            plan.source,
            destination,
            ifc_version=plan.ifc_version,
            model_ids=plan.model_ids,
            mapping=mapping,
            pool=context.engine_pool(),
        )
    except UnknownModelError as problem:  # found before anything is written
        raise _user_error(
            "ModelNotFound",
            f"inputOptions.modelIds names '{problem.model_id}', which is not a model of iModel "
            f"'{plan.imodel_name}'; nothing was exported.",
            "ModelNotFound",
            "A requested model does not exist in the iModel.",
        ) from None
    except IfcExportError as problem:
        raise _user_error(
            "ExportInputError", str(problem), "InvalidExportInput", "The export input is not valid."
        ) from None
    except EngineError as failure:
        raise RunFailed(
            task_error(
                code="EngineFailed",
                message="Failed to export your file.",
                details=f"The iModel engine failed: {failure}",
                description_key="FailedToExport",
                description="Failed to export your file.",
                can_user_fix=False,
            )
        ) from None


async def _put_to_blob_url(url: str, path: Path, content_type: str) -> None:
    async with httpx.AsyncClient(timeout=UPLOAD_TIMEOUT_SECONDS) as client:
        with path.open("rb") as handle:
            response = await client.put(
                url,
                content=handle.read(),
                headers={"x-ms-blob-type": "BlockBlob", "content-type": content_type},
            )
        response.raise_for_status()


async def _deliver_to_user_blob_storage(
    plan: ExportPlan, output: Path, log_path: Path
) -> list[dict[str, Any]]:
    """PUTs the file (and the log) to the caller's URLs; a failure is reported, the stored file remains."""
    problems = []
    targets = [("outputSasUrl", output, "application/x-step")]
    if plan.output_options.get("logsSasUrl"):
        targets.append(("logsSasUrl", log_path, "text/plain"))
    for option, path, content_type in targets:
        url = plan.output_options[option]
        try:
            await _put_to_blob_url(url, path, content_type)
        except httpx.HTTPStatusError as failure:
            reason = f"HTTP {failure.response.status_code}"
        except httpx.HTTPError as failure:
            reason = str(failure) or type(failure).__name__
        else:
            continue
        problems.append(
            task_error(
                code="OutputUploadFailed",
                message="The output could not be written to your storage.",
                details=f"PUT to outputOptions.{option} at {httpx.URL(url).host} failed: {reason}. "
                "The file is still available through exportOutputFileId.",
                description_key="OutputUploadFailed",
                description="Writing to the given blob URL failed.",
                can_user_fix=True,
                phase="upload_output",
            )
        )
    return problems


async def _finish(
    context: WorkerContext,
    run_id: str,
    result: ExecutionResult,
    *,
    error: dict[str, Any] | None = None,
    run_error: dict[str, Any] | None = None,
    output_file_id: str | None = None,
) -> None:
    async with context.runtime.database.transaction() as transaction:
        run = await RunRepository(transaction).get(run_id)
        if run is None:  # the connection was deleted meanwhile
            return
        if run.worker_id != context.worker_id:
            # Our lease expired and another worker took the run: its result is the one that counts.
            logger.warning("run_lease_lost", run_id=run_id, worker_id=context.worker_id, holder=run.worker_id)
            return
        finish(run, result, task_error=error, run_error=run_error, output_file_id=output_file_id)
        await RunRepository(transaction).save(run)


async def _set_finalizing(context: WorkerContext, run_id: str) -> None:
    async with context.runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        if run is not None and run.worker_id == context.worker_id:
            run.state = ExecutionState.FINALIZING.value
            await runs.save(run)


async def execute_export_run(context: WorkerContext, run_id: str) -> None:
    log = logger.bind(run_id=run_id)
    try:
        plan = await _start(context, run_id)
    except RunFailed as failure:
        await _finish(
            context, run_id, ExecutionResult.ERROR, error=failure.error, run_error=failure.run_error
        )
        return
    temporary_root = context.settings.data_dir / "tmp"
    temporary_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=temporary_root, prefix="export-") as workspace:
        directory = Path(workspace)
        output = directory / f"{_file_name(plan.imodel_name)}.ifc"
        try:
            mapping = plan.mapping_path
            if mapping is None and plan.mapping_url:
                mapping = await _download_mapping(plan.mapping_url, directory)
            summary = await asyncio.to_thread(_export, context, plan, output, mapping)
        except RunFailed as failure:
            await _finish(context, run_id, ExecutionResult.ERROR, error=failure.error)
            return
        await _set_finalizing(context, run_id)
        log_path = directory / "export.log"
        log_path.write_text(
            f"twinbridge export of iModel '{plan.imodel_name}' to {plan.ifc_version}\n"
            f"elements: {summary.elements}\ntriangles: {summary.triangles}\n"
            f"bounding-box fallbacks: {summary.bounding_box_fallbacks}\nseconds: {summary.seconds:.2f}\n"
        )
        async with context.runtime.database.transaction() as transaction:
            stored = await StorageService(transaction, context.runtime.blobs).store_file(
                plan.itwin_id,
                output.name,
                output,
                plan.requested_by,
                description=f"IFC export ({plan.ifc_version}) of iModel {plan.imodel_name}",
                folder_id=plan.output_options.get("folderId"),
            )
            output_file_id = stored.id
        problems = list(plan.warnings)
        if summary.bounding_box_fallbacks:
            problems.append(
                task_error(
                    code="GeometryFallback",
                    message="Some elements were exported with their bounding box.",
                    details=f"{summary.bounding_box_fallbacks} element(s) could not be tessellated and were "
                    f"exported as boxes: {', '.join(summary.failed_element_ids[:20])}",
                    description_key="GeometryFallback",
                    description="Some geometry was simplified.",
                    can_user_fix=False,
                )
            )
        if plan.output_options.get("location") == "USER_BLOB_STORAGE":
            problems += await _deliver_to_user_blob_storage(plan, output, log_path)
    result = ExecutionResult.PARTIAL_SUCCESS if problems else ExecutionResult.SUCCESS
    await _finish(
        context, run_id, result, error=problems[0] if problems else None, output_file_id=output_file_id
    )
    log.info("export_finished", elements=summary.elements, triangles=summary.triangles, result=result.value)


async def time_out_export_run(context: WorkerContext, run_id: str) -> None:
    seconds = context.settings.run_timeout
    await _finish(
        context,
        run_id,
        ExecutionResult.TIMED_OUT,
        error=task_error(
            code="RunTimedOut",
            message="The export did not finish in time.",
            details=f"The run exceeded this server's time limit of {seconds} s (TWINBRIDGE_RUN_TIMEOUT).",
            description_key="RunTimedOut",
            description="The run took too long.",
            can_user_fix=False,
        ),
    )
