"""The rules of storage: the folders and files of each iTwin, uploads, and files stored by other features.

A file goes "created" (its upload URL is handed out) -> "uploaded" (bytes arrived at that URL) -> "complete"
(the owner confirmed it). Only complete files are listed, downloaded or read by runs. A complete file's
content is replaced the same way (update content, upload, complete); until then it keeps its old content.
Each iTwin's root folder is made when first needed; folders below it are made, renamed and deleted by
callers (a deleted folder takes its subfolders and files with it; the root stays). A blob written in a
transaction that rolls back is deleted again, and a deleted file's blob goes only once the deletion has
committed.
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
import uuid
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from twinbridge.auth.permissions import Action, authorize
from twinbridge.db.database import Transaction
from twinbridge.db.models import StorageFile, StorageFolder
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.errors import ErrorDetail, InvalidRequest, NotFound
from twinbridge.platform.ids import new_guid
from twinbridge.platform.paging import Page
from twinbridge.platform.time import utc_now
from twinbridge.storage.blobs import BlobNotFound, BlobStorage
from twinbridge.storage.repository import StorageRepository
from twinbridge.storage.signing import new_upload_secret, upload_secret_digest

CREATED = "created"
UPLOADED = "uploaded"
COMPLETE = "complete"
ROOT_FOLDER_NAME = "root"
# Root folder ids are derived from the iTwin id (uuid5 in this namespace), so there is only ever one.
ROOT_FOLDER_NAMESPACE = uuid.UUID("6f0d4c1e-3a5b-4d7e-9c2f-8b1a0e5d7c3f")
SAFE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,16}$")


class FileNotFound(NotFound):
    default_code = "FileNotFound"
    default_message = "Requested file not available."


class FolderNotFound(NotFound):
    default_code = "FolderNotFound"
    default_message = "Requested folder not available."


def root_folder_id(itwin_id: str) -> str:
    return str(uuid.uuid5(ROOT_FOLDER_NAMESPACE, itwin_id))


def file_key(file_id: str, display_name: str, content_version: str | None = None) -> str:
    """The blob key keeps the name's extension, so that engines reading `local_path` see the file type.

    Replaced content gets a key of its own (`content_version`), so the old content stays readable until the
    replacement completes.
    """
    suffix = PurePosixPath(display_name).suffix
    version = f".{content_version}" if content_version else ""
    return f"storage/files/{file_id}{version}{suffix.lower() if SAFE_SUFFIX.match(suffix) else ''}"


def not_uploaded() -> InvalidRequest:
    return InvalidRequest(
        details=[ErrorDetail("FileNotUploaded", "No content has been uploaded to the file's uploadUrl.")]
    )


class StorageService:
    def __init__(self, transaction: Transaction, blobs: BlobStorage) -> None:
        self.transaction = transaction
        self.blobs = blobs
        self.repository = StorageRepository(transaction)
        self.itwins = ITwinService(transaction)

    async def root_folder(self, itwin_id: str) -> StorageFolder:
        """The iTwin's root folder, made on first use."""
        folder_id = root_folder_id(itwin_id)
        folder = await self.repository.get_folder(folder_id)
        if folder is not None:
            return folder
        return await self.repository.add_root_folder(
            StorageFolder(id=folder_id, itwin_id=itwin_id, parent_id=None, display_name=ROOT_FOLDER_NAME)
        )

    async def authorized_root(
        self, itwin_id: str, caller: str, action: Action, *, create: bool
    ) -> StorageFolder | None:
        """The iTwin's root folder; made now if `create`, else None when it has not been made yet."""
        await self.itwins.authorized(itwin_id, caller, action)
        if create:
            return await self.root_folder(itwin_id)
        return await self.repository.get_folder(root_folder_id(itwin_id))

    async def authorized_folder(self, folder_id: str, caller: str, action: Action) -> StorageFolder:
        found = await self.repository.get_folder_with_role(folder_id, caller)
        if found is None:
            raise FolderNotFound()
        folder, role = found
        authorize(role, action)
        return folder

    async def authorized(self, file_id: str, caller: str, action: Action) -> StorageFile:
        """Any file in any state, if `caller` may do `action` on its iTwin."""
        found = await self.repository.get_file_with_role(file_id, caller)
        if found is None:
            raise FileNotFound()
        file, role = found
        authorize(role, action)
        return file

    async def authorized_complete(self, file_id: str, caller: str, action: Action) -> StorageFile:
        file = await self.authorized(file_id, caller, action)
        if file.state != COMPLETE:
            raise FileNotFound()
        return file

    async def folder_path(self, folder: StorageFolder) -> str:
        """Names of the folders below the root, joined by "/" ("" for the root), as upstream writes paths."""
        if folder.parent_id is None:
            return ""
        chain = await self.repository.names_from_root(folder.id)
        return "/".join(name for name, parent_id in chain if parent_id is not None)

    async def folder_path_of(self, file: StorageFile) -> str:
        folder = await self.repository.get_folder(file.folder_id)
        return await self.folder_path(folder) if folder is not None else ""

    async def list_items(self, folder: StorageFolder, page: Page) -> list[StorageFolder | StorageFile]:
        """Subfolders first, then complete files; `page.fetch_limit` rows from `page.skip`."""
        folder_count = await self.repository.count_subfolders(folder.id)
        items: list[StorageFolder | StorageFile] = []
        if page.skip < folder_count:
            items.extend(await self.repository.list_subfolders(folder.id, page.skip, page.fetch_limit))
        remaining = page.fetch_limit - len(items)
        if remaining > 0:
            file_offset = max(page.skip - folder_count, 0)
            items.extend(await self.repository.list_files(folder.id, COMPLETE, file_offset, remaining))
        return items

    async def list_files(self, folder: StorageFolder, page: Page) -> list[StorageFile]:
        return await self.repository.list_files(folder.id, COMPLETE, page.skip, page.fetch_limit)

    async def list_subfolders(self, folder: StorageFolder, page: Page) -> list[StorageFolder]:
        return await self.repository.list_subfolders(folder.id, page.skip, page.fetch_limit)

    async def create_folder(
        self, parent_id: str, display_name: str, description: str | None, caller: str
    ) -> StorageFolder:
        """A folder in the folder `parent_id` (Contributors and Owners of its iTwin)."""
        parent = await self.authorized_folder(parent_id, caller, Action.MODIFY)
        return await self.repository.add_folder(
            StorageFolder(
                id=new_guid(),
                itwin_id=parent.itwin_id,
                parent_id=parent.id,
                display_name=display_name,
                description=description,
                created_by=caller,
                modified_by=caller,
            )
        )

    async def update_folder(
        self, folder_id: str, caller: str, display_name: str | None, description: str | None, fields: set[str]
    ) -> StorageFolder:
        """Changes the fields named in `fields` (those present in the request body); not the root folder."""
        folder = await self.authorized_folder(folder_id, caller, Action.MODIFY)
        self._not_the_root(folder, "changed")
        if "display_name" in fields and display_name is not None:
            folder.display_name = display_name
        if "description" in fields:
            folder.description = description
        folder.modified_at = utc_now()
        folder.modified_by = caller
        return await self.repository.update_folder(folder)

    async def delete_folder(self, folder_id: str, caller: str) -> None:
        """Deletes a folder with everything in it, at once (there is no recycle bin); the files' bytes go
        once the deletion has committed."""
        folder = await self.authorized_folder(folder_id, caller, Action.MODIFY)
        self._not_the_root(folder, "deleted")
        keys = await self.repository.blob_keys_in_subtree(folder.id)
        await self.repository.delete_folder(folder)
        self._delete_after_commit(keys)

    async def discard_itwin(self, itwin_id: str) -> None:
        """Deletes every folder and file of an iTwin that is being deleted; the bytes go after the commit."""
        keys = await self.repository.blob_keys_of_itwin(itwin_id)
        await self.repository.delete_itwin_storage(itwin_id)
        self._delete_after_commit(keys)

    def _delete_after_commit(self, keys: list[str]) -> None:
        for key in keys:
            self.transaction.after_commit(functools.partial(self.blobs.delete, key))

    @staticmethod
    def _not_the_root(folder: StorageFolder, verb: str) -> None:
        if folder.parent_id is None:
            raise InvalidRequest(
                details=[
                    ErrorDetail("RootFolder", f"The root folder of an iTwin cannot be {verb}.", "folderId")
                ]
            )

    async def create_file(
        self, folder_id: str, display_name: str, description: str | None, caller: str
    ) -> tuple[StorageFile, str]:
        """The first step of an upload: a file waiting for its bytes at a secret URL; the file and the URL's
        secret, which is kept only hashed (this is the one answer that shows it)."""
        folder = await self.authorized_folder(folder_id, caller, Action.MODIFY)
        file_id = new_guid()
        secret = new_upload_secret()
        file = await self.repository.add_file(
            StorageFile(
                id=file_id,
                folder_id=folder.id,
                itwin_id=folder.itwin_id,
                display_name=display_name,
                description=description,
                state=CREATED,
                blob_key=file_key(file_id, display_name),
                size=0,
                upload_token_hash=secret.digest,
                created_by=caller,
                modified_by=caller,
            )
        )
        return file, secret.value

    async def start_content_update(
        self, file_id: str, caller: str, display_name: str | None
    ) -> tuple[StorageFile, str]:
        """Step 1 of replacing a complete file's content: a new upload URL (and an optional new name); the
        file and the URL's secret, as `create_file` gives them."""
        file = await self.authorized_complete(file_id, caller, Action.MODIFY)
        self._discard_pending_content(file)
        if display_name is not None:
            file.display_name = display_name
        secret = new_upload_secret()
        file.upload_token_hash = secret.digest
        file.modified_at = utc_now()
        file.modified_by = caller
        await self.repository.update_file(file)
        return file, secret.value

    def _discard_pending_content(self, file: StorageFile) -> None:
        key = file.pending_blob_key
        if key is not None:
            self.transaction.after_commit(lambda: self.blobs.delete(key))
        file.pending_blob_key = file.pending_size = file.pending_sha256 = None

    async def upload_target(self, file_id: str, token: str) -> StorageFile:
        """The file an upload URL belongs to; the URL's token authorizes, as a SAS URL would."""
        file = await self.repository.get_file_by_upload_token_hash(file_id, upload_secret_digest(token))
        if file is None:
            raise FileNotFound()
        return file

    async def receive_upload(self, file: StorageFile, path: Path) -> StorageFile:
        """Stores uploaded bytes; a later upload before completion replaces them, as in Azure.

        The new content of a complete file waits apart (the pending blob) until its update completes.
        """
        if file.state != COMPLETE:
            blob = await asyncio.to_thread(self.blobs.put_file, file.blob_key, path)
            self.transaction.on_rollback(lambda: self.blobs.delete(file.blob_key))
            file.state = UPLOADED
            file.size = blob.size
            file.sha256 = blob.sha256
            await self.repository.update_file(file)
            return file
        key = file_key(file.id, file.display_name, content_version=secrets.token_hex(8))
        blob = await asyncio.to_thread(self.blobs.put_file, key, path)
        self.transaction.on_rollback(lambda: self.blobs.delete(key))
        self._discard_pending_content(file)
        file.pending_blob_key, file.pending_size, file.pending_sha256 = key, blob.size, blob.sha256
        await self.repository.update_file(file)
        return file

    async def complete(self, file_id: str, caller: str) -> StorageFile:
        """Confirms an upload (of a new file, or of new content); the upload URL stops working.

        Completing a complete file with no content update under way changes nothing.
        """
        file = await self.authorized(file_id, caller, Action.MODIFY)
        if file.state == COMPLETE and file.upload_token_hash is None:
            return file
        if file.state == COMPLETE:
            return await self._complete_content_update(file, caller)
        if file.state != UPLOADED or not await asyncio.to_thread(self.blobs.exists, file.blob_key):
            raise not_uploaded()
        file.state = COMPLETE
        file.upload_token_hash = None
        file.modified_at = utc_now()
        file.modified_by = caller
        await self.repository.update_file(file)
        return file

    async def _complete_content_update(self, file: StorageFile, caller: str) -> StorageFile:
        pending = file.pending_blob_key
        if pending is None or not await asyncio.to_thread(self.blobs.exists, pending):
            raise not_uploaded()
        replaced = file.blob_key
        file.blob_key, file.size, file.sha256 = pending, file.pending_size or 0, file.pending_sha256
        file.pending_blob_key = file.pending_size = file.pending_sha256 = None
        file.upload_token_hash = None
        file.modified_at = utc_now()
        file.modified_by = caller
        await self.repository.update_file(file)
        self.transaction.after_commit(lambda: self.blobs.delete(replaced))
        return file

    async def update(
        self, file_id: str, caller: str, display_name: str | None, description: str | None, fields: set[str]
    ) -> StorageFile:
        """Changes the fields named in `fields` (those present in the request body)."""
        file = await self.authorized(file_id, caller, Action.MODIFY)
        if "display_name" in fields and display_name is not None:
            file.display_name = display_name
        if "description" in fields:
            file.description = description
        file.modified_at = utc_now()
        file.modified_by = caller
        await self.repository.update_file(file)
        return file

    async def delete(self, file_id: str, caller: str) -> None:
        file = await self.authorized(file_id, caller, Action.MODIFY)
        key = file.blob_key
        self._discard_pending_content(file)
        await self.repository.delete_file(file)
        self.transaction.after_commit(lambda: self.blobs.delete(key))

    async def downloadable(self, file_id: str, itwin_id: str | None = None) -> StorageFile:
        """A complete file (of `itwin_id` when given), for a caller who has already been authorized."""
        file = await self.repository.get_file(file_id)
        if file is None or file.state != COMPLETE or (itwin_id is not None and file.itwin_id != itwin_id):
            raise FileNotFound()
        return file

    # For other features (export runs, synchronization runs); their callers have already authorized.

    async def store_file(
        self,
        itwin_id: str,
        display_name: str,
        local_path: Path,
        created_by: str | None,
        description: str | None = None,
        folder_id: str | None = None,
        file_id: str | None = None,
    ) -> StorageFile:
        """Copies a local file into storage as a complete file, in the root folder unless `folder_id`.

        `file_id`: the id the file must have (an export run's output has one derived from the run).
        """
        if folder_id is None:
            await self.itwins.require(itwin_id)
            folder = await self.root_folder(itwin_id)
        else:
            found = await self.repository.get_folder(folder_id)
            if found is None or found.itwin_id != itwin_id:
                raise FolderNotFound()
            folder = found
        file_id = file_id or new_guid()
        key = file_key(file_id, display_name)
        blob = await asyncio.to_thread(self.blobs.put_file, key, local_path)
        self.transaction.on_rollback(lambda: self.blobs.delete(key))
        return await self.repository.add_file(
            StorageFile(
                id=file_id,
                folder_id=folder.id,
                itwin_id=itwin_id,
                display_name=display_name,
                description=description,
                state=COMPLETE,
                blob_key=key,
                size=blob.size,
                sha256=blob.sha256,
                upload_token_hash=None,
                created_by=created_by,
                modified_by=created_by,
            )
        )

    async def open_for_read(self, file_id: str, itwin_id: str | None = None) -> BinaryIO:
        """The content of a complete file as a stream; the caller closes it.

        Runs pass the iTwin they work in, so that a file id from another iTwin is not found.
        """
        file = await self.downloadable(file_id, itwin_id)
        try:
            return await asyncio.to_thread(self.blobs.open, file.blob_key)
        except BlobNotFound:  # deleted by a transaction that committed after the lookup
            raise FileNotFound() from None

    async def local_path(self, file_id: str, itwin_id: str | None = None) -> Path:
        """A local file with the content of a complete file (of `itwin_id` when given); never change it."""
        file = await self.downloadable(file_id, itwin_id)
        return await asyncio.to_thread(self.blobs.local_path, file.blob_key)
