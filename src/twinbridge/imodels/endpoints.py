"""The iModels API (v2): iModels (empty, or from a baseline file), changesets, named versions, checkpoints.

Upload and download URLs carry their own authorization (a secret, a signature), like Azure SAS URLs, and
speak the part of Azure Blob Storage that Bentley's storage clients use (twinbridge.imodels.transfers).
"""

from __future__ import annotations

import asyncio
from email.utils import format_datetime
from typing import Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from twinbridge.auth.permissions import Action
from twinbridge.db.models import IModelVersion
from twinbridge.dependencies import Call, Reader, RuntimeDependency, Writer
from twinbridge.imodels.queries import (
    CHANGESET_LIST_PARAMETERS,
    IMODEL_LIST_PARAMETERS,
    NAMED_VERSION_LIST_PARAMETERS,
    changeset_filter,
    imodel_filter,
    named_version_filter,
)
from twinbridge.imodels.schemas import (
    IModelCreate,
    IModelUpdate,
    NamedVersionCreate,
    NamedVersionUpdate,
    baseline_file_body,
    changeset_body,
    checkpoint_body,
    create_operation_body,
    imodel_body,
    imodel_href,
    minimal_imodel_body,
    named_version_body,
    storage_link,
)
from twinbridge.imodels.service import (
    FROM_BASELINE,
    IModelService,
    NamedVersionService,
    baseline_problem,
    creation_mode,
    make_empty_imodel_file,
    upload_key,
    version_download_subject,
)
from twinbridge.imodels.snapshots import remove_snapshot
from twinbridge.imodels.transfers import (
    ConcatenatedBlobs,
    block_ids,
    check_if_match,
    etag_of,
    read_range,
    requested_range,
)
from twinbridge.platform.errors import ErrorDetail, InvalidRequest, invalid_value, missing_parameter
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.ids import new_guid
from twinbridge.platform.intake import streams_body
from twinbridge.platform.pagination import PAGE_PARAMETERS, page_links, page_of
from twinbridge.platform.paging import split_page
from twinbridge.platform.prefer import PREFER_PARAMETER, return_preference
from twinbridge.platform.routing import documented_parameters
from twinbridge.runtime import Runtime
from twinbridge.storage.blobs import BlobTooLarge
from twinbridge.storage.signing import DownloadSigner
from twinbridge.storage.uploads import UploadTooLarge, receive_to_temporary_file

router = APIRouter(prefix="/imodels", tags=["iModels"])
INVALID = "InvalidiModelsRequest"
# A Put Block List names at most 50,000 blocks of about a hundred bytes each.
MAXIMUM_BLOCK_LIST_SIZE = 8 * 1024 * 1024
UPLOAD_PARAMETERS: tuple[dict[str, Any], ...] = (
    {
        "name": "comp",
        "in": "query",
        "required": False,
        "description": "Absent: the whole file (Put Blob). `block`: one block (Put Block, with `blockid`). "
        "`blocklist`: the XML list of the blocks, in file order, that make the file (Put Block List).",
        "schema": {"type": "string", "enum": ["block", "blocklist"]},
    },
    {
        "name": "blockid",
        "in": "query",
        "required": False,
        "description": "The id of the block of a Put Block.",
        "schema": {"type": "string"},
    },
)


def _signer(runtime: Runtime) -> DownloadSigner:
    return DownloadSigner.from_signing_key(runtime.issuer.signing_key)


def _download_link(runtime: Runtime, version: IModelVersion) -> dict[str, str]:
    """A signed URL of the version's snapshot: readable without a token until it expires."""
    signed = _signer(runtime).sign(version_download_subject(version.imodel_id, version.changeset_index))
    href = (
        f"{imodel_href(runtime.settings.base_url, version.imodel_id)}/versions/{version.changeset_index}/file"
        f"?expires={signed.expires}&signature={signed.signature}"
    )
    return storage_link(href)


# ---- iModels


@router.post("", status_code=201)
@invalid_request_code(INVALID)
async def create_imodel(body: IModelCreate, call: Writer) -> dict[str, Any]:
    """Without a baseline file: an empty iModel, made at once (201, `initialized`). With `baselineFile`
    (creationMode fromBaseline, or none): `_links.upload` (PUT the file there) and `_links.complete`."""
    runtime = call.runtime
    if creation_mode(body) == FROM_BASELINE:
        async with call.transaction() as transaction:
            imodel, upload_secret = await IModelService(transaction, runtime.blobs).create_awaiting_baseline(
                body, call.caller.subject
            )
        return {"iModel": imodel_body(imodel, call.base_url, upload_secret)}
    async with runtime.database.transaction(write=False) as transaction:
        await IModelService(transaction, runtime.blobs).check_new(body, call.caller.subject)
    imodel_id = new_guid()
    snapshot = await make_empty_imodel_file(runtime.settings, imodel_id, body)
    try:
        async with call.transaction() as transaction:
            imodel = await IModelService(transaction, runtime.blobs).create_empty(
                imodel_id, body, snapshot, call.caller.subject
            )
    finally:
        await asyncio.to_thread(remove_snapshot, snapshot)
    return {"iModel": imodel_body(imodel, call.base_url)}


@router.get("")
@documented_parameters(*PAGE_PARAMETERS, *IMODEL_LIST_PARAMETERS, PREFER_PARAMETER)
@invalid_request_code(INVALID)
async def list_imodels(
    request: Request,
    itwin_id: Annotated[str, Query(alias="iTwinId")],
    call: Reader,
) -> dict[str, Any]:
    page = page_of(request)
    where = imodel_filter(itwin_id, request.query_params)
    preference = return_preference(request)
    async with call.transaction() as transaction:
        imodels = await IModelService(transaction, call.runtime.blobs).list_in_itwin(
            itwin_id, call.caller.subject, page, where
        )
    rows, has_next = split_page(imodels, page)
    if preference == "representation":
        items = [imodel_body(imodel, call.base_url) for imodel in rows]
    else:
        items = [minimal_imodel_body(imodel) for imodel in rows]
    return {"iModels": items, "_links": page_links(call.base_url, request, page, has_next)}


@router.get("/{imodel_id}")
@invalid_request_code(INVALID)
async def get_imodel(imodel_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        imodel = await IModelService(transaction, call.runtime.blobs).authorized(
            imodel_id, call.caller.subject, Action.READ
        )
    return {"iModel": imodel_body(imodel, call.base_url)}


@router.patch("/{imodel_id}")
@invalid_request_code(INVALID)
async def update_imodel(imodel_id: str, body: IModelUpdate, call: Writer) -> dict[str, Any]:
    async with call.transaction() as transaction:
        imodel = await IModelService(transaction, call.runtime.blobs).update(
            imodel_id, call.caller.subject, body
        )
    return {"iModel": imodel_body(imodel, call.base_url)}


@router.delete("/{imodel_id}", status_code=204)
@invalid_request_code(INVALID)
async def delete_imodel(imodel_id: str, call: Writer) -> Response:
    async with call.transaction() as transaction:
        await IModelService(transaction, call.runtime.blobs).delete(imodel_id, call.caller.subject)
    return Response(status_code=204)


@router.get("/{imodel_id}/operations/create")
@invalid_request_code(INVALID)
async def get_create_operation(imodel_id: str, call: Reader) -> dict[str, Any]:
    """For clients that poll after a create: empty iModels are `successful` at once."""
    async with call.transaction() as transaction:
        imodel = await IModelService(transaction, call.runtime.blobs).authorized(
            imodel_id, call.caller.subject, Action.READ
        )
    return {"createOperation": create_operation_body(imodel)}


# ---- the baseline file


@router.put("/{imodel_id}/baselinefile/upload", status_code=201)
@streams_body
@documented_parameters(*UPLOAD_PARAMETERS)
@invalid_request_code(INVALID)
async def upload_baseline(
    imodel_id: str,
    request: Request,
    token: Annotated[str, Query(description="The secret of the upload URL.")],
    runtime: RuntimeDependency,
) -> Response:
    """Step 2: the file's bytes, whole or in blocks. Like a SAS URL, the URL itself authorizes.

    The bytes are received outside any transaction: an upload must not hold the database.
    """
    comp = request.query_params.get("comp")
    async with runtime.database.transaction(write=False) as transaction:
        imodel = await IModelService(transaction, runtime.blobs).upload_target(imodel_id, token)
    limit = imodel.baseline_expected_size or 0
    block_id = request.query_params.get("blockid")
    if comp == "blocklist":
        await _commit_block_list(runtime, request, imodel_id, token, limit)
        return Response(status_code=201)
    if comp not in (None, "", "block"):
        raise InvalidRequest(
            details=[invalid_value("comp", "Provided comp value is not valid: use block or blocklist.")]
        )
    if comp == "block" and not block_id:
        raise InvalidRequest(details=[missing_parameter("blockid")])
    try:
        path, size = await receive_to_temporary_file(
            request.stream(), runtime.settings.data_dir / "tmp", limit, request.headers.get("content-length")
        )
    except UploadTooLarge:
        raise _too_large(limit) from None
    try:
        target = upload_key(imodel.id)
        if comp == "block" and block_id:
            async with runtime.database.transaction(write=True) as transaction:
                target = await IModelService(transaction, runtime.blobs).record_block(imodel, block_id, size)
        await asyncio.to_thread(runtime.blobs.put_file, target, path)
    finally:
        path.unlink(missing_ok=True)
    return Response(status_code=201)


def _too_large(limit: int) -> InvalidRequest:
    """The rest of the body is not read: the connection closes, so that the client stops sending it."""
    problem = baseline_problem(
        f"The upload is larger than the baselineFile.size ({limit} bytes) given when the iModel was created."
    )
    problem.headers["connection"] = "close"
    return problem


async def _commit_block_list(
    runtime: Runtime, request: Request, imodel_id: str, token: str, limit: int
) -> None:
    """Put Block List: the blocks, in the list's order, become the uploaded file; the blocks go."""
    document = bytearray()
    async for chunk in request.stream():
        document += chunk
        if len(document) > MAXIMUM_BLOCK_LIST_SIZE:
            raise InvalidRequest(
                details=[ErrorDetail("InvalidBlockList", "The block list is too long.", "comp")]
            )
    ids = block_ids(bytes(document))
    async with runtime.database.transaction(write=False) as transaction:
        service = IModelService(transaction, runtime.blobs)
        keys = await service.blocks_in_order(await service.upload_target(imodel_id, token), ids)
    source = ConcatenatedBlobs(runtime.blobs, keys)
    try:
        await asyncio.to_thread(
            runtime.blobs.put_stream, upload_key(imodel_id), cast(BinaryIO, source), limit
        )
    except BlobTooLarge:
        raise _too_large(limit) from None
    finally:
        source.close()
    async with runtime.database.transaction(write=True) as transaction:
        await IModelService(transaction, runtime.blobs).forget_blocks(imodel_id)


@router.post("/{imodel_id}/baselinefile/complete")
@router.post("/{imodel_id}/baselinefile", deprecated=True, summary="Complete Baseline (older clients)")
@invalid_request_code(INVALID)
async def complete_baseline(imodel_id: str, call: Writer) -> dict[str, Any]:
    """Step 3: the file is checked; a file that is not an iModel is refused with 422 and deleted."""
    async with call.transaction() as transaction:
        imodel, baseline = await IModelService(transaction, call.runtime.blobs).complete_baseline(
            imodel_id, call.caller.subject
        )
    return {"baselineFile": baseline_file_body(imodel, baseline, _download_link(call.runtime, baseline))}


@router.get("/{imodel_id}/baselinefile")
@invalid_request_code(INVALID)
async def get_baseline(imodel_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        service = IModelService(transaction, call.runtime.blobs)
        imodel = await service.authorized(imodel_id, call.caller.subject, Action.READ)
        baseline = await service.baseline(imodel.id)
    download = _download_link(call.runtime, baseline) if baseline else None
    return {"baselineFile": baseline_file_body(imodel, baseline, download)}


# ---- changesets and checkpoints


@router.get("/{imodel_id}/changesets")
@documented_parameters(*PAGE_PARAMETERS, *CHANGESET_LIST_PARAMETERS, PREFER_PARAMETER)
@invalid_request_code(INVALID)
async def list_changesets(imodel_id: str, request: Request, call: Reader) -> dict[str, Any]:
    page = page_of(request)
    where = changeset_filter(request.query_params)
    representation = return_preference(request) == "representation"
    async with call.transaction() as transaction:
        service = IModelService(transaction, call.runtime.blobs)
        await service.authorized(imodel_id, call.caller.subject, Action.READ)
        rows, has_next = split_page(await service.changesets(imodel_id, page, where), page)
    return {
        "changesets": [
            changeset_body(
                version,
                call.base_url,
                _download_link(call.runtime, version) if representation else None,
                representation,
            )
            for version in rows
        ],
        "_links": page_links(call.base_url, request, page, has_next),
    }


async def _readable_version(call: Call, imodel_id: str, slot: str, checkpoint: bool) -> IModelVersion:
    async with call.transaction() as transaction:
        service = IModelService(transaction, call.runtime.blobs)
        await service.authorized(imodel_id, call.caller.subject, Action.READ)
        if checkpoint:
            return await service.checkpoint(imodel_id, slot)
        return await service.changeset(imodel_id, slot)


@router.get("/{imodel_id}/changesets/{changeset}")
@invalid_request_code(INVALID)
async def get_changeset(imodel_id: str, changeset: str, call: Reader) -> dict[str, Any]:
    """`changeset` is an id (40 hex digits) or an index."""
    version = await _readable_version(call, imodel_id, changeset, checkpoint=False)
    return {"changeset": changeset_body(version, call.base_url, _download_link(call.runtime, version))}


@router.get("/{imodel_id}/changesets/{changeset}/checkpoint")
@invalid_request_code(INVALID)
async def get_changeset_checkpoint(imodel_id: str, changeset: str, call: Reader) -> dict[str, Any]:
    """Index 0 is the baseline's checkpoint."""
    version = await _readable_version(call, imodel_id, changeset, checkpoint=True)
    return {"checkpoint": checkpoint_body(version, _download_link(call.runtime, version))}


@router.get("/{imodel_id}/briefcases/checkpoint")
@invalid_request_code(INVALID)
async def get_latest_checkpoint(imodel_id: str, call: Reader) -> dict[str, Any]:
    """The checkpoint of the newest version (what a client opens when it names no version)."""
    async with call.transaction() as transaction:
        service = IModelService(transaction, call.runtime.blobs)
        await service.authorized(imodel_id, call.caller.subject, Action.READ)
        version = await service.latest_checkpoint(imodel_id)
    return {"checkpoint": checkpoint_body(version, _download_link(call.runtime, version))}


@router.get("/{imodel_id}/versions/{changeset_index}/file")
@invalid_request_code(INVALID)
async def download_version(
    imodel_id: str,
    changeset_index: int,
    request: Request,
    runtime: RuntimeDependency,
    expires: Annotated[str, Query(description="When the URL expires (Unix seconds).")] = "",
    signature: Annotated[str, Query(description="The URL's signature.")] = "",
) -> StreamingResponse:
    """The bytes of a version's snapshot, for whoever holds a signed URL; no Authorization header.

    Answers as Azure Blob Storage does: Content-Length and ETag always, one range of `Range` or `x-ms-range`
    with 206 and Content-Range, 412 when `If-Match` names another ETag.
    """
    _signer(runtime).verify(version_download_subject(imodel_id, changeset_index), expires, signature)
    async with runtime.database.transaction(write=False) as transaction:
        version = await IModelService(transaction, runtime.blobs).version_to_download(
            imodel_id, changeset_index
        )
    etag = etag_of(version.sha256)
    check_if_match(request.headers.get("if-match"), etag)
    wanted = requested_range(request.headers.get("x-ms-range") or request.headers.get("range"), version.size)
    start, length = (wanted.start, wanted.length) if wanted else (0, version.size)
    headers = {
        "Content-Length": str(length),
        "ETag": etag,
        "Last-Modified": format_datetime(version.created_at, usegmt=True),
        "Accept-Ranges": "bytes",
        "x-ms-blob-type": "BlockBlob",
    }
    if wanted:
        headers["Content-Range"] = wanted.content_range(version.size)
    stream = await asyncio.to_thread(runtime.blobs.open, version.blob_key)
    return StreamingResponse(
        read_range(stream, start, length),  # a sync iterator: Starlette reads it in a worker thread
        status_code=206 if wanted else 200,
        media_type="application/octet-stream",
        headers=headers,
    )


# ---- named versions


@router.get("/{imodel_id}/namedversions")
@documented_parameters(*PAGE_PARAMETERS, *NAMED_VERSION_LIST_PARAMETERS, PREFER_PARAMETER)
@invalid_request_code(INVALID)
async def list_named_versions(imodel_id: str, request: Request, call: Reader) -> dict[str, Any]:
    page = page_of(request)
    where = named_version_filter(request.query_params)
    representation = return_preference(request) == "representation"
    async with call.transaction() as transaction:
        named_versions = await NamedVersionService(transaction, call.runtime.blobs).list(
            imodel_id, call.caller.subject, page, where
        )
    rows, has_next = split_page(named_versions, page)
    return {
        "namedVersions": [named_version_body(item, call.base_url, representation) for item in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }


@router.post("/{imodel_id}/namedversions", status_code=201)
@invalid_request_code(INVALID)
async def create_named_version(imodel_id: str, body: NamedVersionCreate, call: Writer) -> dict[str, Any]:
    """On the changeset `changesetId` names; without one, on the baseline (index 0), as upstream."""
    async with call.transaction() as transaction:
        named_version = await NamedVersionService(transaction, call.runtime.blobs).create(
            imodel_id, call.caller.subject, body
        )
    return {"namedVersion": named_version_body(named_version, call.base_url)}


@router.get("/{imodel_id}/namedversions/{named_version_id}")
@invalid_request_code(INVALID)
async def get_named_version(imodel_id: str, named_version_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        named_version = await NamedVersionService(transaction, call.runtime.blobs).get(
            imodel_id, named_version_id, call.caller.subject
        )
    return {"namedVersion": named_version_body(named_version, call.base_url)}


@router.patch("/{imodel_id}/namedversions/{named_version_id}")
@invalid_request_code(INVALID)
async def update_named_version(
    imodel_id: str, named_version_id: str, body: NamedVersionUpdate, call: Writer
) -> dict[str, Any]:
    async with call.transaction() as transaction:
        named_version = await NamedVersionService(transaction, call.runtime.blobs).update(
            imodel_id, named_version_id, call.caller.subject, body
        )
    return {"namedVersion": named_version_body(named_version, call.base_url)}


@router.get("/{imodel_id}/namedversions/{named_version_id}/checkpoint")
@invalid_request_code(INVALID)
async def get_named_version_checkpoint(imodel_id: str, named_version_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        version = await NamedVersionService(transaction, call.runtime.blobs).checkpoint(
            imodel_id, named_version_id, call.caller.subject
        )
    return {"checkpoint": checkpoint_body(version, _download_link(call.runtime, version))}
