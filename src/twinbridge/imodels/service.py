"""The rules of iModels: creating them from a baseline snapshot, reading, listing and deleting them.

Every iModel version is an immutable snapshot file in blob storage; version 0 is the baseline. A file is
accepted only after `inspect_imodel_file` says it is an iModel, and a refused or failed creation leaves
neither rows nor blobs behind. `caller` None is the local operator (the CLI), who needs no iTwin role.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from twinbridge.auth.permissions import Action, authorize
from twinbridge.db.database import Transaction
from twinbridge.db.models import IModel, IModelVersion
from twinbridge.imodels.repository import IModelRepository
from twinbridge.imodels.validation import IModelFileInfo, NotAnIModel, inspect_imodel_file
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.errors import Conflict, ErrorDetail, InvalidRequest, NotFound
from twinbridge.platform.ids import new_guid
from twinbridge.platform.paging import Page
from twinbridge.storage.blobs import BlobStorage, StoredBlob

NOT_INITIALIZED = "notInitialized"
INITIALIZED = "initialized"


class IModelNotFound(NotFound):
    default_code = "iModelNotFound"
    default_message = "Requested iModel is not available."


class IModelExists(Conflict):
    default_code = "iModelExists"
    default_message = "iModel with the same name already exists within the iTwin."


class IModelAlreadyInitialized(Conflict):
    default_code = "iModelAlreadyInitialized"
    default_message = "The iModel already has a baseline file."


def baseline_problem(message: str) -> InvalidRequest:
    return InvalidRequest(details=[ErrorDetail("InvalidBaselineFile", message, "baselineFile")])


def version_key(imodel_id: str, changeset_index: int) -> str:
    return f"imodels/{imodel_id}/versions/{changeset_index:06d}.bim"


def upload_key(imodel_id: str) -> str:
    return f"uploads/imodels/{imodel_id}/baseline.bim"


@dataclass(frozen=True)
class ImportedIModel:
    imodel: IModel
    version: IModelVersion
    info: IModelFileInfo


class IModelService:
    def __init__(self, transaction: Transaction, blobs: BlobStorage) -> None:
        self.transaction = transaction
        self.blobs = blobs
        self.repository = IModelRepository(transaction)
        self.itwins = ITwinService(transaction)

    async def _check_itwin(self, itwin_id: str, caller: str | None, action: Action) -> None:
        if caller is None:
            await self.itwins.require(itwin_id)
        else:
            await self.itwins.authorized(itwin_id, caller, action)

    async def _check_name(self, itwin_id: str, name: str) -> None:
        if await self.repository.name_taken(itwin_id, name):
            raise IModelExists()

    async def import_file(
        self, itwin_id: str, path: Path, name: str, description: str | None, caller: str | None
    ) -> ImportedIModel:
        """Registers a local .bim snapshot as a new, initialized iModel."""
        await self._check_itwin(itwin_id, caller, Action.MODIFY)
        await self._check_name(itwin_id, name)
        try:
            info = await asyncio.to_thread(inspect_imodel_file, path)
        except NotAnIModel as problem:
            raise baseline_problem(str(problem)) from None
        imodel = await self.repository.add(
            IModel(
                id=new_guid(),
                itwin_id=itwin_id,
                name=name,
                description=description,
                state=INITIALIZED,
                created_by=caller,
            )
        )
        version = await self._store_baseline(imodel, lambda key: self.blobs.put_file(key, path), caller)
        return ImportedIModel(imodel, version, info)

    async def _store_baseline(
        self, imodel: IModel, store: Callable[[str], StoredBlob], caller: str | None
    ) -> IModelVersion:
        key = version_key(imodel.id, 0)
        blob = await asyncio.to_thread(store, key)
        self.transaction.on_rollback(lambda: self.blobs.delete(key))
        return await self.repository.add_version(
            IModelVersion(
                imodel_id=imodel.id,
                changeset_index=0,
                changeset_id=None,
                blob_key=key,
                size=blob.size,
                sha256=blob.sha256,
                created_by=caller,
            )
        )

    async def create_awaiting_baseline(
        self, itwin_id: str, name: str, description: str | None, size: int, caller: str
    ) -> IModel:
        """The first step of the "fromBaseline" flow: an iModel waiting for its file at a secret URL."""
        await self._check_itwin(itwin_id, caller, Action.MODIFY)
        await self._check_name(itwin_id, name)
        return await self.repository.add(
            IModel(
                id=new_guid(),
                itwin_id=itwin_id,
                name=name,
                description=description,
                state=NOT_INITIALIZED,
                created_by=caller,
                baseline_upload_token=secrets.token_urlsafe(32),
                baseline_expected_size=size,
            )
        )

    async def upload_target(self, imodel_id: str, token: str) -> IModel:
        """The iModel an upload URL belongs to; the URL's token authorizes, as a SAS URL would."""
        imodel = await self.repository.get_by_upload_token(imodel_id, token)
        if imodel is None:
            raise IModelNotFound()
        if imodel.state != NOT_INITIALIZED:
            raise IModelAlreadyInitialized()
        return imodel

    async def complete_baseline(self, imodel_id: str, caller: str) -> tuple[IModel, IModelVersion]:
        """Checks the uploaded file; accepts it as version 0, or deletes it and says what is wrong."""
        imodel = await self.authorized(imodel_id, caller, Action.MODIFY)
        if imodel.state != NOT_INITIALIZED:
            raise IModelAlreadyInitialized()
        upload = upload_key(imodel.id)
        if not self.blobs.exists(upload):
            raise baseline_problem("No baseline file has been uploaded to the iModel's upload URL.")
        try:
            uploaded_path = await asyncio.to_thread(self.blobs.local_path, upload)
            await asyncio.to_thread(inspect_imodel_file, uploaded_path)
        except NotAnIModel as problem:
            await asyncio.to_thread(self.blobs.delete, upload)
            raise baseline_problem(str(problem)) from None
        version = await self._store_baseline(
            imodel, lambda key: self.blobs.put_file(key, uploaded_path), caller
        )
        self.transaction.after_commit(lambda: self.blobs.delete(upload))
        imodel.state = INITIALIZED
        imodel.baseline_upload_token = None
        await self.repository.update(imodel)
        return imodel, version

    async def authorized(self, imodel_id: str, caller: str, action: Action) -> IModel:
        found = await self.repository.get_with_role(imodel_id, caller)
        if found is None:
            raise IModelNotFound()
        imodel, role = found
        authorize(role, action)
        return imodel

    async def list_in_itwin(self, itwin_id: str, caller: str, page: Page) -> list[IModel]:
        await self.itwins.authorized(itwin_id, caller, Action.READ)
        return await self.repository.list_in_itwin(itwin_id, page.skip, page.fetch_limit)

    async def add_version(self, imodel_id: str, path: Path, created_by: str | None) -> IModelVersion:
        """Stores a new snapshot as the iModel's next version (synchronization never edits one in place).

        Its changeset id is the first 40 hex digits of the file's SHA-256, like upstream's 40-hex ids.
        """
        latest = await self.repository.latest_version(imodel_id)
        index = latest.changeset_index + 1 if latest else 0
        key = version_key(imodel_id, index)
        blob = await asyncio.to_thread(self.blobs.put_file, key, path)
        self.transaction.on_rollback(lambda: self.blobs.delete(key))
        return await self.repository.add_version(
            IModelVersion(
                imodel_id=imodel_id,
                changeset_index=index,
                changeset_id=blob.sha256[:40],
                blob_key=key,
                size=blob.size,
                sha256=blob.sha256,
                created_by=created_by,
            )
        )

    async def baseline(self, imodel_id: str) -> IModelVersion | None:
        versions = await self.repository.list_versions(imodel_id, offset=0, limit=1)
        return versions[0] if versions else None

    async def changesets(self, imodel_id: str, page: Page) -> list[IModelVersion]:
        """Versions after the baseline, as the iModels API lists changesets (index 1 and on)."""
        return await self.repository.list_versions(imodel_id, offset=page.skip + 1, limit=page.fetch_limit)

    async def delete(self, imodel_id: str, caller: str) -> None:
        imodel = await self.authorized(imodel_id, caller, Action.MODIFY)
        keys = [version.blob_key for version in await self.repository.all_versions(imodel.id)]
        keys.append(upload_key(imodel.id))
        await self.repository.delete(imodel)

        def delete_blobs() -> None:
            for key in keys:
                self.blobs.delete(key)

        self.transaction.after_commit(delete_blobs)
