"""The minimal Storage API: each iTwin's root folder, the create -> upload -> complete flow, downloads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from twinbridge.auth.permissions import Action
from twinbridge.dependencies import (
    Reader,
    RuntimeDependency,
    TransactionDependency,
    Writer,
    WriteTransactionDependency,
)
from twinbridge.platform.errors import PayloadTooLarge
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.pagination import page_links, page_parameters
from twinbridge.platform.paging import Page, split_page
from twinbridge.runtime import Runtime
from twinbridge.storage.blobs import read_chunks
from twinbridge.storage.schemas import (
    FileContentUpdate,
    FileCreate,
    FileUpdate,
    content_disposition,
    content_href,
    file_body,
    folder_body,
    item_body,
    upload_links,
)
from twinbridge.storage.service import StorageService
from twinbridge.storage.signing import DownloadSigner
from twinbridge.storage.uploads import UploadTooLarge, receive_to_temporary_file

router = APIRouter(prefix="/storage", tags=["Storage"])
PageDependency = Annotated[Page, Depends(page_parameters)]
INVALID = "InvalidStorageRequest"
# Azure's limit for one Put Blob request, which is what upstream upload URLs accept.
MAXIMUM_UPLOAD_SIZE = 5000 * 1024 * 1024


async def _service(transaction: TransactionDependency, runtime: RuntimeDependency) -> StorageService:
    return StorageService(transaction, runtime.blobs)


async def _service_that_may_write(
    transaction: WriteTransactionDependency, runtime: RuntimeDependency
) -> StorageService:
    """For the GET that makes the iTwin's root folder on first use: it must hold the write lock."""
    return StorageService(transaction, runtime.blobs)


ServiceDependency = Annotated[StorageService, Depends(_service)]
WritingServiceDependency = Annotated[StorageService, Depends(_service_that_may_write)]


def _signer(runtime: Runtime) -> DownloadSigner:
    return DownloadSigner.from_signing_key(runtime.issuer.signing_key)


@router.get("/")
@router.get("", include_in_schema=False)
@invalid_request_code(INVALID)
async def list_top_level(
    request: Request,
    itwin_id: Annotated[str, Query(alias="iTwinId")],
    caller: Reader,
    service: WritingServiceDependency,
    runtime: RuntimeDependency,
    page: PageDependency,
) -> dict[str, Any]:
    """Folders and files in the iTwin's root folder; `_links.folder` is the root folder."""
    base_url = runtime.settings.base_url
    root = await service.authorized_root(itwin_id, caller.subject, Action.READ)
    rows, has_next = split_page(await service.list_items(root, page), page)
    return {
        "items": [item_body(item, "", base_url) for item in rows],
        "_links": {
            "folder": {"href": f"{base_url}/storage/folders/{root.id}"},
            **page_links(base_url, request, page, has_next),
        },
    }


@router.get("/folders/{folder_id}")
@invalid_request_code(INVALID)
async def get_folder(
    folder_id: str, caller: Reader, service: ServiceDependency, runtime: RuntimeDependency
) -> dict[str, Any]:
    folder = await service.authorized_folder(folder_id, caller.subject, Action.READ)
    return {"folder": folder_body(folder, await service.folder_path(folder), runtime.settings.base_url)}


@router.get("/folders/{folder_id}/files")
@invalid_request_code(INVALID)
async def list_files(
    folder_id: str,
    request: Request,
    caller: Reader,
    service: ServiceDependency,
    runtime: RuntimeDependency,
    page: PageDependency,
) -> dict[str, Any]:
    base_url = runtime.settings.base_url
    folder = await service.authorized_folder(folder_id, caller.subject, Action.READ)
    rows, has_next = split_page(await service.list_files(folder, page), page)
    path = await service.folder_path(folder)
    return {
        "files": [file_body(file, path, base_url) for file in rows],
        "_links": page_links(base_url, request, page, has_next),
    }


@router.post("/folders/{folder_id}/files", status_code=202)
@invalid_request_code(INVALID)
async def create_file(
    folder_id: str, body: FileCreate, caller: Writer, service: ServiceDependency, runtime: RuntimeDependency
) -> dict[str, Any]:
    """Step 1 of an upload: answers with `uploadUrl` (PUT the bytes there) and `completeUrl`."""
    file = await service.create_file(folder_id, body.display_name, body.description, caller.subject)
    return upload_links(file, runtime.settings.base_url)


@router.post("/files/{file_id}/updatecontent")
@invalid_request_code(INVALID)
async def update_file_content(
    file_id: str,
    caller: Writer,
    service: ServiceDependency,
    runtime: RuntimeDependency,
    body: FileContentUpdate | None = None,
) -> dict[str, Any]:
    """Step 1 of replacing a file's content: `uploadUrl` for the new bytes, `completeUrl` to confirm them.

    The file keeps its current content (downloads, runs) until the update completes.
    """
    file = await service.start_content_update(
        file_id, caller.subject, body.display_name if body is not None else None
    )
    return upload_links(file, runtime.settings.base_url)


@router.put("/files/{file_id}/upload", status_code=201)
@invalid_request_code(INVALID)
async def upload_file(
    file_id: str,
    request: Request,
    token: Annotated[str, Query(description="The secret of the upload URL.")],
    service: ServiceDependency,
    runtime: RuntimeDependency,
    blob_type: Annotated[
        str | None,
        Header(
            alias="x-ms-blob-type", description="Accepted as Azure clients send it; blobs are block blobs."
        ),
    ] = None,
) -> Response:
    """Step 2: the bytes. Like a SAS URL, the URL itself authorizes; no Authorization header."""
    file = await service.upload_target(file_id, token)
    try:
        path, _ = await receive_to_temporary_file(
            request.stream(), runtime.settings.data_dir / "tmp", MAXIMUM_UPLOAD_SIZE
        )
    except UploadTooLarge:
        raise PayloadTooLarge() from None
    try:
        await service.receive_upload(file, path)
    finally:
        path.unlink(missing_ok=True)
    return Response(status_code=201)


@router.post("/files/{file_id}/complete")
@invalid_request_code(INVALID)
async def complete_file(
    file_id: str, caller: Writer, service: ServiceDependency, runtime: RuntimeDependency
) -> dict[str, Any]:
    """Step 3: the uploaded bytes become the file's content; the upload URL stops working."""
    file = await service.complete(file_id, caller.subject)
    return {"file": file_body(file, await service.folder_path_of(file), runtime.settings.base_url)}


@router.get("/files/{file_id}")
@invalid_request_code(INVALID)
async def get_file(
    file_id: str, caller: Reader, service: ServiceDependency, runtime: RuntimeDependency
) -> dict[str, Any]:
    file = await service.authorized(file_id, caller.subject, Action.READ)
    return {"file": file_body(file, await service.folder_path_of(file), runtime.settings.base_url)}


@router.patch("/files/{file_id}")
@invalid_request_code(INVALID)
async def update_file(
    file_id: str, body: FileUpdate, caller: Writer, service: ServiceDependency, runtime: RuntimeDependency
) -> dict[str, Any]:
    file = await service.update(
        file_id, caller.subject, body.display_name, body.description, body.model_fields_set
    )
    return {"file": file_body(file, await service.folder_path_of(file), runtime.settings.base_url)}


@router.delete("/files/{file_id}", status_code=204)
@invalid_request_code(INVALID)
async def delete_file(file_id: str, caller: Writer, service: ServiceDependency) -> Response:
    await service.delete(file_id, caller.subject)
    return Response(status_code=204)


@router.get("/files/{file_id}/download", status_code=302, response_class=RedirectResponse)
@invalid_request_code(INVALID)
async def download_file(
    file_id: str, caller: Reader, service: ServiceDependency, runtime: RuntimeDependency
) -> RedirectResponse:
    """Redirects to a short-lived signed URL of the content, as upstream redirects to a SAS URL."""
    file = await service.authorized_complete(file_id, caller.subject, Action.READ)
    signed = _signer(runtime).sign(file.id)
    return RedirectResponse(content_href(runtime.settings.base_url, file.id, signed), status_code=302)


@router.get("/files/{file_id}/content", response_class=StreamingResponse)
@invalid_request_code(INVALID)
async def file_content(
    file_id: str,
    service: ServiceDependency,
    runtime: RuntimeDependency,
    expires: Annotated[str, Query(description="When the URL expires (Unix seconds).")] = "",
    signature: Annotated[str, Query(description="The URL's signature.")] = "",
) -> StreamingResponse:
    """The bytes of a file, for whoever holds a signed URL from `download`; no Authorization header."""
    _signer(runtime).verify(file_id, expires, signature)
    file = await service.downloadable(file_id)
    stream = await service.open_for_read(file.id)
    return StreamingResponse(
        read_chunks(stream),  # a sync iterator: Starlette reads it in a worker thread
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(file.size),
            "Content-Disposition": content_disposition(file.display_name),
        },
    )
