"""The Storage API: each iTwin's folder tree, the create -> upload -> complete flow of files, downloads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from twinbridge.auth.permissions import Action
from twinbridge.db.models import StorageFile, StorageFolder
from twinbridge.dependencies import Call, Reader, RuntimeDependency, Writer
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.intake import payload_too_large, streams_body
from twinbridge.platform.pagination import PAGE_PARAMETERS, page_links, page_of
from twinbridge.platform.paging import Page, split_page
from twinbridge.platform.routing import documented_parameters
from twinbridge.runtime import Runtime
from twinbridge.storage.blobs import read_chunks
from twinbridge.storage.schemas import (
    FileContentUpdate,
    FileCreate,
    FileUpdate,
    FolderCreate,
    FolderUpdate,
    content_disposition,
    content_href,
    file_body,
    folder_body,
    item_body,
    joined_path,
    upload_links,
)
from twinbridge.storage.service import StorageService
from twinbridge.storage.signing import DownloadSigner
from twinbridge.storage.uploads import UploadTooLarge, receive_to_temporary_file

router = APIRouter(prefix="/storage", tags=["Storage"])
INVALID = "InvalidStorageRequest"
# Upstream's code for a folder that cannot be created or updated ("Folder name contains invalid characters").
INVALID_FOLDER = "InvalidCreateFolderRequest"
# Azure's limit for one Put Blob request, which is what upstream upload URLs accept.
MAXIMUM_UPLOAD_SIZE = 5000 * 1024 * 1024


def _signer(runtime: Runtime) -> DownloadSigner:
    return DownloadSigner.from_signing_key(runtime.issuer.signing_key)


async def _root_items(
    call: Call, itwin_id: str, page: Page
) -> tuple[StorageFolder, list[StorageFolder | StorageFile]]:
    """The root folder and a page of its items; the root is made on first use (in a writing transaction:
    every later call reads)."""
    async with call.transaction() as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        root = await service.authorized_root(itwin_id, call.caller.subject, Action.READ, create=False)
        if root is not None:
            return root, await service.list_items(root, page)
    async with call.runtime.database.transaction(write=True) as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        made = await service.authorized_root(itwin_id, call.caller.subject, Action.READ, create=True)
        assert made is not None
        return made, await service.list_items(made, page)


@router.get("/")
@router.get("", include_in_schema=False)
@documented_parameters(*PAGE_PARAMETERS)
@invalid_request_code(INVALID)
async def list_top_level(
    request: Request, itwin_id: Annotated[str, Query(alias="iTwinId")], call: Reader
) -> dict[str, Any]:
    """Folders and files in the iTwin's root folder; `_links.folder` is the root folder."""
    page = page_of(request)
    root, items = await _root_items(call, itwin_id, page)
    rows, has_next = split_page(items, page)
    return {
        "items": [item_body(item, "", call.base_url) for item in rows],
        "_links": {
            "folder": {"href": f"{call.base_url}/storage/folders/{root.id}"},
            **page_links(call.base_url, request, page, has_next),
        },
    }


@router.get("/folders/{folder_id}")
@invalid_request_code(INVALID)
async def get_folder(folder_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        folder = await service.authorized_folder(folder_id, call.caller.subject, Action.READ)
        path = await service.folder_path(folder)
    return {"folder": folder_body(folder, path, call.base_url)}


@router.patch("/folders/{folder_id}")
@invalid_request_code(INVALID_FOLDER)
async def update_folder(folder_id: str, body: FolderUpdate, call: Writer) -> dict[str, Any]:
    async with call.transaction() as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        folder = await service.update_folder(
            folder_id, call.caller.subject, body.display_name, body.description, body.model_fields_set
        )
        path = await service.folder_path(folder)
    return {"folder": folder_body(folder, path, call.base_url)}


@router.delete("/folders/{folder_id}", status_code=204, response_class=Response)
@invalid_request_code(INVALID)
async def delete_folder(folder_id: str, call: Writer) -> Response:
    """Deletes the folder with its subfolders and files (upstream moves them to its recycle bin)."""
    async with call.transaction() as transaction:
        await StorageService(transaction, call.runtime.blobs).delete_folder(folder_id, call.caller.subject)
    return Response(status_code=204)


@router.post("/folders/{folder_id}/folders", status_code=201)
@invalid_request_code(INVALID_FOLDER)
async def create_folder(folder_id: str, body: FolderCreate, call: Writer) -> dict[str, Any]:
    async with call.transaction() as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        folder = await service.create_folder(
            folder_id, body.display_name, body.description, call.caller.subject
        )
        path = await service.folder_path(folder)
    return {"folder": folder_body(folder, path, call.base_url)}


@router.get("/folders/{folder_id}/folders")
@documented_parameters(*PAGE_PARAMETERS)
@invalid_request_code(INVALID)
async def list_folders(folder_id: str, request: Request, call: Reader) -> dict[str, Any]:
    page = page_of(request)
    async with call.transaction() as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        folder = await service.authorized_folder(folder_id, call.caller.subject, Action.READ)
        rows, has_next = split_page(await service.list_subfolders(folder, page), page)
        path = await service.folder_path(folder)
    return {
        "folders": [folder_body(item, joined_path(path, item.display_name), call.base_url) for item in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }


@router.get("/folders/{folder_id}/list")
@documented_parameters(*PAGE_PARAMETERS)
@invalid_request_code(INVALID)
async def list_folder_items(folder_id: str, request: Request, call: Reader) -> dict[str, Any]:
    """The folder's subfolders, then its files, each with `type` `folder` or `file`."""
    page = page_of(request)
    async with call.transaction() as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        folder = await service.authorized_folder(folder_id, call.caller.subject, Action.READ)
        rows, has_next = split_page(await service.list_items(folder, page), page)
        path = await service.folder_path(folder)
    return {
        "items": [item_body(item, path, call.base_url) for item in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }


@router.get("/folders/{folder_id}/files")
@documented_parameters(*PAGE_PARAMETERS)
@invalid_request_code(INVALID)
async def list_files(folder_id: str, request: Request, call: Reader) -> dict[str, Any]:
    page = page_of(request)
    async with call.transaction() as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        folder = await service.authorized_folder(folder_id, call.caller.subject, Action.READ)
        rows, has_next = split_page(await service.list_files(folder, page), page)
        path = await service.folder_path(folder)
    return {
        "files": [file_body(file, path, call.base_url) for file in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }


@router.post("/folders/{folder_id}/files", status_code=202)
@invalid_request_code(INVALID)
async def create_file(folder_id: str, body: FileCreate, call: Writer) -> dict[str, Any]:
    """Step 1 of an upload: answers with `uploadUrl` (PUT the bytes there) and `completeUrl`."""
    async with call.transaction() as transaction:
        file, upload_secret = await StorageService(transaction, call.runtime.blobs).create_file(
            folder_id, body.display_name, body.description, call.caller.subject
        )
    return upload_links(file, upload_secret, call.base_url)


@router.post("/files/{file_id}/updatecontent")
@invalid_request_code(INVALID)
async def update_file_content(
    file_id: str, call: Writer, body: FileContentUpdate | None = None
) -> dict[str, Any]:
    """Step 1 of replacing a file's content: `uploadUrl` for the new bytes, `completeUrl` to confirm them.

    The file keeps its current content (downloads, runs) until the update completes.
    """
    async with call.transaction() as transaction:
        file, upload_secret = await StorageService(transaction, call.runtime.blobs).start_content_update(
            file_id, call.caller.subject, body.display_name if body is not None else None
        )
    return upload_links(file, upload_secret, call.base_url)


@router.put("/files/{file_id}/upload", status_code=201)
@streams_body
@invalid_request_code(INVALID)
async def upload_file(
    file_id: str,
    request: Request,
    token: Annotated[str, Query(description="The secret of the upload URL.")],
    runtime: RuntimeDependency,
    blob_type: Annotated[
        str | None,
        Header(
            alias="x-ms-blob-type", description="Accepted as Azure clients send it; blobs are block blobs."
        ),
    ] = None,
) -> Response:
    """Step 2: the bytes. Like a SAS URL, the URL itself authorizes; no Authorization header.

    The bytes are received outside any transaction: an upload must not hold the database.
    """
    async with runtime.database.transaction(write=False) as transaction:
        await StorageService(transaction, runtime.blobs).upload_target(file_id, token)
    try:
        path, _ = await receive_to_temporary_file(
            request.stream(),
            runtime.settings.data_dir / "tmp",
            MAXIMUM_UPLOAD_SIZE,
            request.headers.get("content-length"),
        )
    except UploadTooLarge:
        raise payload_too_large() from None
    try:
        async with runtime.database.transaction(write=True) as transaction:
            service = StorageService(transaction, runtime.blobs)
            await service.receive_upload(await service.upload_target(file_id, token), path)
    finally:
        path.unlink(missing_ok=True)
    return Response(status_code=201)


@router.post("/files/{file_id}/complete")
@invalid_request_code(INVALID)
async def complete_file(file_id: str, call: Writer) -> dict[str, Any]:
    """Step 3: the uploaded bytes become the file's content; the upload URL stops working."""
    async with call.transaction() as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        file = await service.complete(file_id, call.caller.subject)
        path = await service.folder_path_of(file)
    return {"file": file_body(file, path, call.base_url)}


@router.get("/files/{file_id}")
@invalid_request_code(INVALID)
async def get_file(file_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        file = await service.authorized(file_id, call.caller.subject, Action.READ)
        path = await service.folder_path_of(file)
    return {"file": file_body(file, path, call.base_url)}


@router.patch("/files/{file_id}")
@invalid_request_code(INVALID)
async def update_file(file_id: str, body: FileUpdate, call: Writer) -> dict[str, Any]:
    async with call.transaction() as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        file = await service.update(
            file_id, call.caller.subject, body.display_name, body.description, body.model_fields_set
        )
        path = await service.folder_path_of(file)
    return {"file": file_body(file, path, call.base_url)}


@router.delete("/files/{file_id}", status_code=204)
@invalid_request_code(INVALID)
async def delete_file(file_id: str, call: Writer) -> Response:
    async with call.transaction() as transaction:
        await StorageService(transaction, call.runtime.blobs).delete(file_id, call.caller.subject)
    return Response(status_code=204)


@router.get("/files/{file_id}/download", status_code=302, response_class=RedirectResponse)
@invalid_request_code(INVALID)
async def download_file(file_id: str, call: Reader) -> RedirectResponse:
    """Redirects to a short-lived signed URL of the content, as upstream redirects to a SAS URL."""
    async with call.transaction() as transaction:
        service = StorageService(transaction, call.runtime.blobs)
        file = await service.authorized_complete(file_id, call.caller.subject, Action.READ)
    signed = _signer(call.runtime).sign(file.id)
    return RedirectResponse(content_href(call.base_url, file.id, signed), status_code=302)


@router.get("/files/{file_id}/content", response_class=StreamingResponse)
@invalid_request_code(INVALID)
async def file_content(
    file_id: str,
    runtime: RuntimeDependency,
    expires: Annotated[str, Query(description="When the URL expires (Unix seconds).")] = "",
    signature: Annotated[str, Query(description="The URL's signature.")] = "",
) -> StreamingResponse:
    """The bytes of a file, for whoever holds a signed URL from `download`; no Authorization header."""
    _signer(runtime).verify(file_id, expires, signature)
    async with runtime.database.transaction(write=False) as transaction:
        service = StorageService(transaction, runtime.blobs)
        file = await service.downloadable(file_id)
        stream = await service.open_for_read(file.id)
    return StreamingResponse(
        read_chunks(stream),  # a sync iterator: Starlette reads it in a worker thread
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(file.size),
            "Content-Disposition": content_disposition(file.display_name),
            # The URL is its own authorization (no cookies, no token), so any page may read it, as browsers
            # read SAS URLs: a download followed from a page of the server under another host name works.
            "Access-Control-Allow-Origin": "*",
        },
    )
