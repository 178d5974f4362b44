"""Executing an export run in a worker: iModel version → IFC file in storage (and the caller's blob URL).

Transactions are short: one to start the run, one to finalize it. The export itself runs outside any
transaction, in a thread, on this worker process's long-lived engine.

A run has at most one output file, whatever happened to its attempts: the file is stored in the transaction
that completes the run (an attempt that fails or is killed stores nothing), under an id derived from the
run's (a killed attempt's stray bytes are overwritten by the next). What the caller gave is checked before
anything is written: the output folder, the SAS URLs' addresses, the mapping file; a problem ends the run at
once with a task error the user can act on, naming their file or field, never the server's paths. Every
request to a caller's URL goes through the guarded outbound client (platform.outbound).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog

from twinbridge.auth.grants import GrantService
from twinbridge.db.database import Transaction
from twinbridge.db.models import IModelVersion, Run
from twinbridge.imodels.repository import IModelRepository
from twinbridge.platform.disk import require_free_space
from twinbridge.platform.outbound import OutboundError, OutboundRefused
from twinbridge.platform.time import utc_now
from twinbridge.runs.repository import RunRepository
from twinbridge.runs.service import finish
from twinbridge.runs.states import ExecutionResult, ExecutionState
from twinbridge.runs.task_errors import (
    USER_NOT_AUTHENTICATED,
    canceled_on_request,
    run_timed_out,
    task_error,
    without_server_paths,
)
from twinbridge.runs.worker import WorkerContext
from twinbridge.runs.workspace import local_file_name, run_workspace
from twinbridge.storage.repository import StorageRepository
from twinbridge.storage.service import FileNotFound, FolderNotFound, StorageService, root_folder_id

if TYPE_CHECKING:
    from twinbridge.engines.ifc.mapping import ClassMapping

logger = structlog.get_logger(__name__)

MAPPING_FILE_LIMIT_BYTES = 16 * 1024 * 1024
# Output file ids are derived from run ids (uuid5 in this namespace): one output per run.
OUTPUT_FILE_NAMESPACE = uuid.UUID("3b8f1c52-7d4e-4a0b-9f6d-2e5c8a1b7f40")


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
    mapping_name: str | None  # the stored mapping file's name, as its owner knows it
    mapping_url: str | None
    output_options: dict[str, Any]
    folder_id: str | None  # None: the iTwin's root folder
    warnings: list[dict[str, Any]] = field(default_factory=list)


class RunFailed(Exception):
    """Ends the run with result Error and the task error given."""

    def __init__(self, error: dict[str, Any], run_error: dict[str, Any] | None = None) -> None:
        super().__init__(error.get("details", ""))
        self.error = error
        self.run_error = run_error


def _user_error(
    code: str, details: str, description_key: str, description: str, phase: str = "export_file"
) -> RunFailed:
    return RunFailed(
        task_error(
            code=code,
            message="Failed to export your file.",
            details=details,
            description_key=description_key,
            description=description,
            can_user_fix=True,
            phase=phase,
        )
    )


def output_name(imodel_name: str) -> str:
    """The stored output's name: the iModel's, as a file name."""
    return (re.sub(r"[^\w.\- ]+", "_", imodel_name).strip() or "export")[:250] + ".ifc"


def output_file_id(run_id: str) -> str:
    """The id of a run's output file, the same for every attempt of the run."""
    return str(uuid.uuid5(OUTPUT_FILE_NAMESPACE, run_id))


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
        mapping_path = mapping_name = None
        if input_options.get("mappingFileId"):
            try:
                mapping_file = await StorageService(transaction, runtime.blobs).downloadable(
                    input_options["mappingFileId"], itwin_id=imodel.itwin_id
                )
                mapping_path = await asyncio.to_thread(runtime.blobs.local_path, mapping_file.blob_key)
                mapping_name = mapping_file.display_name
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
        folder_id = await _output_folder(transaction, imodel.itwin_id, options.get("outputOptions", {}))
        await RunRepository(transaction).save(run)
        return ExportPlan(
            itwin_id=imodel.itwin_id,
            imodel_name=imodel.name,
            requested_by=run.requested_by,
            source=await asyncio.to_thread(runtime.blobs.local_path, version.blob_key),
            ifc_version=options.get("ifcVersion", "IFC4.3"),
            model_ids=input_options.get("modelIds"),
            mapping_path=mapping_path,
            mapping_name=mapping_name,
            mapping_url=input_options.get("mappingfileBlobUrl"),
            output_options=options.get("outputOptions", {}),
            folder_id=folder_id,
            warnings=warnings,
        )


async def _output_folder(
    transaction: Transaction, itwin_id: str, output_options: dict[str, Any]
) -> str | None:
    """The folder the output goes to (None: the root); checked at create, and again in case it went since."""
    folder_id = output_options.get("folderId")
    if folder_id is None or folder_id == root_folder_id(itwin_id):
        return None
    folder = await StorageRepository(transaction).get_folder(folder_id)
    if folder is None or folder.itwin_id != itwin_id:
        raise _output_folder_gone(folder_id)
    return str(folder_id)


def _output_folder_gone(folder_id: str) -> RunFailed:
    return _user_error(
        "OutputFolderNotFound",
        f"The folder '{folder_id}' (outputOptions.folderId) is not a folder of the iModel's iTwin; it may "
        "have been deleted since the run was created.",
        "OutputFolderNotFound",
        "The output folder was not found.",
        phase="upload_output",
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


async def _mapping(context: WorkerContext, plan: ExportPlan, directory: Path) -> ClassMapping | None:
    """The run's mapping file, read and checked; errors name the user's file, never the server's paths."""
    from twinbridge.engines.ifc.errors import MappingFileError
    from twinbridge.engines.ifc.mapping import read_mapping

    if plan.mapping_path is not None:
        path = plan.mapping_path
        source = f"The mapping file '{plan.mapping_name}' (inputOptions.mappingFileId)"
    elif plan.mapping_url:
        path = directory / "mapping.json"
        try:
            await context.runtime.outbound.download(
                plan.mapping_url,
                path,
                max_bytes=MAPPING_FILE_LIMIT_BYTES,
                keep_free=context.settings.min_free_disk,
            )
        except OutboundError as failure:
            raise _user_error(
                "MappingFileDownloadFailed",
                f"The mapping file (inputOptions.mappingfileBlobUrl) could not be downloaded. {failure}.",
                "MappingFileDownloadFailed",
                "The mapping file could not be downloaded.",
            ) from None
        source = f"The mapping file from {_host_of(plan.mapping_url)} (inputOptions.mappingfileBlobUrl)"
    else:
        return None
    try:
        return read_mapping(await asyncio.to_thread(path.read_bytes), source)
    except MappingFileError as problem:
        raise _invalid_mapping(problem) from None


def _invalid_mapping(problem: Exception) -> RunFailed:
    return _user_error(
        "MappingFileInvalid", str(problem), "InvalidMappingFile", "The mapping file is not valid."
    )


def _host_of(url: str) -> str:
    """The host of a URL that was requested already (so it parses), for messages: never the whole URL."""
    return urlsplit(url).hostname or "its host"


def _export(context: WorkerContext, plan: ExportPlan, destination: Path, mapping: ClassMapping | None) -> Any:
    from twinbridge.engines.ifc import (
        IfcExportError,
        MappingFileError,
        UnknownModelError,
        export_imodel_to_ifc,
    )
    from twinbridge.engines.imodel import EngineCrashedError, EngineError

    keep_free = context.settings.min_free_disk

    def check_disk(estimated_bytes: int, written_bytes: int) -> None:
        # What the export still writes, then the stored copy of the whole file, made while it still exists.
        require_free_space(destination.parent, estimated_bytes - written_bytes + estimated_bytes + keep_free)

    try:
        return export_imodel_to_ifc(
            plan.source,
            destination,
            ifc_version=plan.ifc_version,
            model_ids=plan.model_ids,
            mapping=mapping,
            pool=context.engine_pool(),
            check_disk=check_disk,
        )
    except MappingFileError as problem:  # an entity the target schema lacks
        raise _invalid_mapping(problem) from None
    except UnknownModelError as problem:  # found before anything is written
        raise _user_error(
            "ModelNotFound",
            f"inputOptions.modelIds names '{problem.model_id}', which is not a model of iModel "
            f"'{plan.imodel_name}'; nothing was exported.",
            "ModelNotFound",
            "A requested model does not exist in the iModel.",
        ) from None
    except IfcExportError as problem:
        details = _without_paths(context, plan, destination, str(problem))
        raise _user_error(
            "ExportInputError", details, "InvalidExportInput", "The export input is not valid."
        ) from None
    except EngineCrashedError:
        raise  # the infrastructure's failure, not the run's: the worker retries the run on a fresh engine
    except EngineError as failure:
        reason = _without_paths(context, plan, destination, str(failure))
        raise RunFailed(
            task_error(
                code="EngineFailed",
                message="Failed to export your file.",
                details=f"The iModel engine failed: {reason}",
                description_key="FailedToExport",
                description="Failed to export your file.",
                can_user_fix=False,
            )
        ) from None


def _without_paths(context: WorkerContext, plan: ExportPlan, destination: Path, text: str) -> str:
    names = {plan.source: f"iModel '{plan.imodel_name}'", destination: destination.name}
    return without_server_paths(text, context.settings.data_dir, names)


def _destinations(plan: ExportPlan) -> list[tuple[str, str]]:
    """The caller's blob URLs the run PUTs to, by option name."""
    if plan.output_options.get("location") != "USER_BLOB_STORAGE":
        return []
    return [
        (option, plan.output_options[option])
        for option in ("outputSasUrl", "logsSasUrl")
        if plan.output_options.get(option)
    ]


def _refused_destination(option: str, failure: OutboundRefused) -> RunFailed:
    return _user_error(
        "OutputUploadRefused",
        f"outputOptions.{option} cannot be written to. {failure}. Give a URL of a public blob storage.",
        "OutputUploadRefused",
        "This server does not send files to the given address.",
        phase="upload_output",
    )


async def _check_destinations(context: WorkerContext, plan: ExportPlan) -> None:
    """Refuses the run before any work when a blob URL points where the server does not send files."""
    for option, url in _destinations(plan):
        try:
            await context.runtime.outbound.check_destination(url)
        except OutboundRefused as failure:
            raise _refused_destination(option, failure) from None


async def _deliver_to_user_blob_storage(
    context: WorkerContext, plan: ExportPlan, output: Path, log_path: Path
) -> list[dict[str, Any]]:
    """PUTs the file (and the log) to the caller's URLs. A refused address fails the run (nothing is
    stored); another failure is reported, and the file is still stored for exportOutputFileId."""
    problems = []
    paths = {"outputSasUrl": (output, "application/x-step"), "logsSasUrl": (log_path, "text/plain")}
    for option, url in _destinations(plan):
        path, content_type = paths[option]
        try:
            await context.runtime.outbound.put_file(
                url, path, {"x-ms-blob-type": "BlockBlob", "content-type": content_type}
            )
        except OutboundRefused as failure:
            raise _refused_destination(option, failure) from None
        except OutboundError as failure:
            problems.append(
                task_error(
                    code="OutputUploadFailed",
                    message="The output could not be written to your storage.",
                    details=f"PUT to outputOptions.{option} failed. {failure}. "
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
) -> None:
    async with context.runtime.database.transaction() as transaction:
        run = await RunRepository(transaction).get(run_id)
        if run is None:  # the connection was deleted meanwhile
            return
        if run.worker_id != context.worker_id:
            # Our lease expired and another worker took the run: its result is the one that counts.
            logger.warning("run_lease_lost", run_id=run_id, worker_id=context.worker_id, holder=run.worker_id)
            return
        finish(run, result, task_error=error, run_error=run_error)
        await RunRepository(transaction).save(run)


async def _set_finalizing(context: WorkerContext, run_id: str) -> None:
    async with context.runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        if run is not None and run.worker_id == context.worker_id:
            run.state = ExecutionState.FINALIZING.value
            await runs.save(run)


async def _store_and_finish(
    context: WorkerContext, run_id: str, plan: ExportPlan, output: Path, problems: list[dict[str, Any]]
) -> ExecutionResult | None:
    """Stores the output and completes the run in one transaction; None when the run is no longer ours."""
    result = ExecutionResult.PARTIAL_SUCCESS if problems else ExecutionResult.SUCCESS
    try:
        async with context.runtime.database.transaction() as transaction:
            runs = RunRepository(transaction)
            run = await runs.get(run_id)
            if run is None or run.worker_id != context.worker_id:
                logger.warning("run_lease_lost", run_id=run_id, worker_id=context.worker_id)
                return None
            if run.cancel_requested_at is not None:  # the worker does not cancel this transaction midway
                finish(run, ExecutionResult.CANCELED, task_error=canceled_on_request())
                await runs.save(run)
                return ExecutionResult.CANCELED
            stored = await StorageService(transaction, context.runtime.blobs).store_file(
                plan.itwin_id,
                output_name(plan.imodel_name),
                output,
                plan.requested_by,
                description=f"IFC export ({plan.ifc_version}) of iModel {plan.imodel_name}",
                folder_id=plan.folder_id,
                file_id=output_file_id(run_id),
            )
            finish(run, result, task_error=problems[0] if problems else None, output_file_id=stored.id)
            await runs.save(run)
    except FolderNotFound:
        raise _output_folder_gone(str(plan.folder_id)) from None
    return result


async def execute_export_run(context: WorkerContext, run_id: str) -> None:
    log = logger.bind(run_id=run_id)
    try:
        plan = await _start(context, run_id)
        await _check_destinations(context, plan)
        # A first guess (the output is often about as large); the export checks again after each chunk of
        # elements, from what it has written (`check_disk` in `_export`).
        expected = (await asyncio.to_thread(plan.source.stat)).st_size
        with run_workspace(context.settings, run_id, expected_bytes=expected) as directory:
            output = directory / local_file_name(f"{plan.imodel_name}.ifc", "export")
            mapping = await _mapping(context, plan, directory)
            summary = await context.cancellation.in_thread(_export, context, plan, output, mapping)
            await _set_finalizing(context, run_id)
            log_path = directory / "export.log"
            log_path.write_text(
                f"twinbridge export of iModel '{plan.imodel_name}' to {plan.ifc_version}\n"
                f"elements: {summary.elements}\ntriangles: {summary.triangles}\n"
                f"bounding-box fallbacks: {summary.bounding_box_fallbacks}\nseconds: {summary.seconds:.2f}\n"
            )
            problems = list(plan.warnings)
            if summary.bounding_box_fallbacks:
                problems.append(
                    task_error(
                        code="GeometryFallback",
                        message="Some elements were exported with their bounding box.",
                        details=f"{summary.bounding_box_fallbacks} element(s) could not be tessellated and "
                        f"were exported as boxes: {', '.join(summary.failed_element_ids[:20])}",
                        description_key="GeometryFallback",
                        description="Some geometry was simplified.",
                        can_user_fix=False,
                    )
                )
            if summary.entity_substitutions:
                problems.append(
                    task_error(
                        code="EntitySubstituted",
                        message="Some elements were exported as another IFC class.",
                        details=f"{len(summary.entity_substitutions)} product(s) or type(s) were written as "
                        "the class the IFC version and its rules allow (a standard case without its "
                        "material usage, a facility the version lacks): "
                        f"{', '.join(summary.entity_substitutions[:20])}",
                        description_key="EntitySubstituted",
                        description="Some IFC classes were generalized.",
                        can_user_fix=False,
                    )
                )
            if summary.not_carried:
                problems.append(
                    task_error(
                        code="ContentNotCarried",
                        message="Some IFC content of the iModel could not be written in this IFC version.",
                        details=f"{len(summary.not_carried)} attribute(s), value(s), set(s) or "
                        f"relationship(s) were left out: {'; '.join(summary.not_carried[:20])}",
                        description_key="ContentNotCarried",
                        description="Some content was left out.",
                        can_user_fix=False,
                    )
                )
            problems += await _deliver_to_user_blob_storage(context, plan, output, log_path)
            with context.cancellation.finalizing():
                result = await _store_and_finish(context, run_id, plan, output, problems)
    except RunFailed as failure:
        await _finish(
            context, run_id, ExecutionResult.ERROR, error=failure.error, run_error=failure.run_error
        )
        return
    if result is not None:
        log.info(
            "export_finished", elements=summary.elements, triangles=summary.triangles, result=result.value
        )


async def time_out_export_run(context: WorkerContext, run_id: str) -> None:
    await _finish(
        context,
        run_id,
        ExecutionResult.TIMED_OUT,
        error=run_timed_out(context.settings.run_timeout, "export"),
    )
