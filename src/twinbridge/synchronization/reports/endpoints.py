"""Get Diagnostic Reports (D1): `GET /synchronization/reports?imodelId&runId[&taskId]`, under its own prefix,
and the signed URLs (`sasUri`) its reports are downloaded from, which need no Authorization header."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from twinbridge.auth.scopes import Access, ScopeRequirement
from twinbridge.dependencies import Call, RuntimeDependency, authenticated
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.routing import documented_parameters
from twinbridge.runtime import Runtime
from twinbridge.storage.blobs import read_chunks
from twinbridge.storage.signing import DownloadSigner
from twinbridge.synchronization.reports.content import render_html
from twinbridge.synchronization.reports.schemas import report_body
from twinbridge.synchronization.reports.service import ReportService

router = APIRouter(prefix="/synchronization/reports", tags=["Synchronization Diagnostic Reports"])
Reader = Annotated[Call, Depends(authenticated(ScopeRequirement("synchronization", Access.READ)))]
INVALID = "InvalidBadgersRequest"  # upstream's code for this operation


def _signer(runtime: Runtime) -> DownloadSigner:
    return DownloadSigner.from_signing_key(runtime.issuer.signing_key)


def _subject(report_id: str) -> str:
    """What a report's signed URL signs (apart from storage files' and versions' URLs)."""
    return f"synchronization/reports/{report_id}"


# Read by hand: a missing one is upstream's MissingRequiredProperty "iModelId should be provided.".
_REQUIRED_PARAMETERS = tuple(
    {
        "name": name,
        "in": "query",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
    }
    for name, description in (("imodelId", "The iModel's id."), ("runId", "The run's id."))
)


@router.get("", name="get_diagnostic_reports")
@documented_parameters(*_REQUIRED_PARAMETERS)
@invalid_request_code(INVALID)
async def get_reports(
    request: Request,
    call: Reader,
    task_id: Annotated[str | None, Query(alias="taskId", description="A task of the run.")] = None,
) -> dict[str, Any]:
    """The reports of a synchronization run (one per task), or of one of its tasks, with a signed URL of
    each (`sasUri`, one hour): JSON, or an HTML page with `&format=html`."""
    imodel_id = request.query_params.get("imodelId")
    run_id = request.query_params.get("runId")
    async with call.transaction() as transaction:
        reports = await ReportService(transaction, call.runtime.blobs).readable(
            imodel_id, run_id, task_id, call.caller.subject
        )
    signer = _signer(call.runtime)
    bodies = []
    for report in reports:
        signed = signer.sign(_subject(report.id))
        href = (
            f"{call.base_url}/synchronization/reports/{report.id}/content"
            f"?expires={signed.expires}&signature={signed.signature}"
        )
        bodies.append(report_body(report, href))
    return {"reports": bodies}


@router.get("/{report_id}/content", name="download_diagnostic_report", response_model=None)
@invalid_request_code(INVALID)
async def report_content(
    report_id: str,
    runtime: RuntimeDependency,
    expires: Annotated[str, Query(description="When the URL expires (Unix seconds).")] = "",
    signature: Annotated[str, Query(description="The URL's signature.")] = "",
    format: Annotated[Literal["json", "html"], Query(description="`json` (default) or `html`.")] = "json",
) -> Response:
    """A report, for whoever holds its signed URL; no Authorization header."""
    _signer(runtime).verify(_subject(report_id), expires, signature)
    async with runtime.database.transaction(write=False) as transaction:
        report = await ReportService(transaction, runtime.blobs).downloadable(report_id)
    if format == "html":

        def rendered() -> str:
            with runtime.blobs.open(report.blob_key) as stream:
                return render_html(json.load(stream))

        return HTMLResponse(await asyncio.to_thread(rendered))
    stream = await asyncio.to_thread(runtime.blobs.open, report.blob_key)
    return StreamingResponse(read_chunks(stream), media_type="application/json")
