"""The minimal iModels API: create from a baseline (the "fromBaseline" flow), get, list, delete."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from twinbridge.auth.permissions import Action
from twinbridge.dependencies import Reader, RuntimeDependency, Writer
from twinbridge.imodels.schemas import IModelCreate, baseline_file_body, changeset_body, imodel_body
from twinbridge.imodels.service import IModelService, baseline_problem, upload_key
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.pagination import PAGE_PARAMETERS, page_links, page_of
from twinbridge.platform.paging import split_page
from twinbridge.platform.prefer import PREFER_PARAMETER, return_preference
from twinbridge.platform.routing import documented_parameters
from twinbridge.storage.uploads import UploadTooLarge, receive_to_temporary_file

router = APIRouter(prefix="/imodels", tags=["iModels"])
INVALID = "InvalidiModelsRequest"


@router.post("", status_code=201)
@invalid_request_code(INVALID)
async def create_imodel(body: IModelCreate, call: Writer) -> dict[str, Any]:
    """Step 1 of "fromBaseline": answers with `_links.upload` (PUT the file there) and `_links.complete`."""
    async with call.transaction() as transaction:
        imodel = await IModelService(transaction, call.runtime.blobs).create_awaiting_baseline(
            body.itwin_id, body.name, body.description, body.baseline_file.size, call.caller.subject
        )
    return {"iModel": imodel_body(imodel, call.base_url, upload_links=True)}


@router.put("/{imodel_id}/baselinefile/upload", status_code=201)
@invalid_request_code(INVALID)
async def upload_baseline(
    imodel_id: str,
    request: Request,
    token: Annotated[str, Query(description="The secret of the upload URL.")],
    runtime: RuntimeDependency,
) -> Response:
    """Step 2: the file's bytes. Like a SAS URL, the URL itself authorizes; no Authorization header.

    The bytes are received outside any transaction: an upload must not hold the database.
    """
    async with runtime.database.transaction(write=False) as transaction:
        imodel = await IModelService(transaction, runtime.blobs).upload_target(imodel_id, token)
    limit = imodel.baseline_expected_size or 0
    try:
        path, _ = await receive_to_temporary_file(request.stream(), runtime.settings.data_dir / "tmp", limit)
    except UploadTooLarge:
        raise baseline_problem(
            f"The upload is larger than the baselineFile.size ({limit} bytes) "
            "given when the iModel was created."
        ) from None
    try:
        await asyncio.to_thread(runtime.blobs.put_file, upload_key(imodel.id), path)
    finally:
        path.unlink(missing_ok=True)
    return Response(status_code=201)


@router.post("/{imodel_id}/baselinefile/complete")
@invalid_request_code(INVALID)
async def complete_baseline(imodel_id: str, call: Writer) -> dict[str, Any]:
    """Step 3: the file is checked; a file that is not an iModel is refused with 422 and deleted."""
    async with call.transaction() as transaction:
        imodel, baseline = await IModelService(transaction, call.runtime.blobs).complete_baseline(
            imodel_id, call.caller.subject
        )
    return {"baselineFile": baseline_file_body(imodel, baseline)}


@router.get("/{imodel_id}/baselinefile")
@invalid_request_code(INVALID)
async def get_baseline(imodel_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        service = IModelService(transaction, call.runtime.blobs)
        imodel = await service.authorized(imodel_id, call.caller.subject, Action.READ)
        baseline = await service.baseline(imodel.id)
    return {"baselineFile": baseline_file_body(imodel, baseline)}


@router.get("")
@documented_parameters(*PAGE_PARAMETERS, PREFER_PARAMETER)
@invalid_request_code(INVALID)
async def list_imodels(
    request: Request,
    itwin_id: Annotated[str, Query(alias="iTwinId")],
    call: Reader,
) -> dict[str, Any]:
    page = page_of(request)
    preference = return_preference(request)
    async with call.transaction() as transaction:
        imodels = await IModelService(transaction, call.runtime.blobs).list_in_itwin(
            itwin_id, call.caller.subject, page
        )
    rows, has_next = split_page(imodels, page)
    if preference == "representation":
        items = [imodel_body(imodel, call.base_url) for imodel in rows]
    else:
        items = [{"id": imodel.id, "displayName": imodel.name} for imodel in rows]
    return {"iModels": items, "_links": page_links(call.base_url, request, page, has_next)}


@router.get("/{imodel_id}")
@invalid_request_code(INVALID)
async def get_imodel(imodel_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        imodel = await IModelService(transaction, call.runtime.blobs).authorized(
            imodel_id, call.caller.subject, Action.READ
        )
    return {"iModel": imodel_body(imodel, call.base_url, upload_links=True)}


@router.get("/{imodel_id}/changesets")
@documented_parameters(*PAGE_PARAMETERS)
@invalid_request_code(INVALID)
async def list_changesets(imodel_id: str, request: Request, call: Reader) -> dict[str, Any]:
    page = page_of(request)
    async with call.transaction() as transaction:
        service = IModelService(transaction, call.runtime.blobs)
        await service.authorized(imodel_id, call.caller.subject, Action.READ)
        rows, has_next = split_page(await service.changesets(imodel_id, page), page)
    return {
        "changesets": [changeset_body(version, call.base_url) for version in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }


@router.delete("/{imodel_id}", status_code=204)
@invalid_request_code(INVALID)
async def delete_imodel(imodel_id: str, call: Writer) -> Response:
    async with call.transaction() as transaction:
        await IModelService(transaction, call.runtime.blobs).delete(imodel_id, call.caller.subject)
    return Response(status_code=204)
