"""The rules of iModels: creating them (empty, or from a baseline snapshot), reading, updating, listing and
deleting them; their changesets, named versions and checkpoints.

Every iModel version is an immutable snapshot file in blob storage; version 0 is the baseline, version n
(n >= 1) is changeset n. A file is accepted only after `inspect_imodel_file` says it is an iModel, and a
refused or failed creation leaves neither rows nor blobs behind. `caller` None is the local operator (the
CLI), who needs no iTwin role.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinbridge.auth.permissions import Action, authorize
from twinbridge.config import Settings
from twinbridge.db.database import IntegrityError, Transaction
from twinbridge.db.models import IModel, IModelUploadBlock, IModelVersion, NamedVersion
from twinbridge.imodels.deletion import blob_keys_kept_for
from twinbridge.imodels.repository import (
    ChangesetFilter,
    IModelFilter,
    IModelRepository,
    NamedVersionFilter,
    NamedVersionRepository,
)
from twinbridge.imodels.schemas import IModelCreate, IModelUpdate, NamedVersionCreate, NamedVersionUpdate
from twinbridge.imodels.snapshots import (
    CoordinateSystemNotAvailable,
    EmptySnapshotRequest,
    SnapshotNotMade,
    make_empty_snapshot,
    remove_snapshot,
)
from twinbridge.imodels.validation import IModelFileInfo, NotAnIModel, inspect_imodel_file
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.errors import (
    ApiError,
    Conflict,
    ErrorDetail,
    InvalidRequest,
    NotFound,
    invalid_value,
    missing_property,
)
from twinbridge.platform.ids import new_guid
from twinbridge.platform.paging import Page
from twinbridge.storage.blobs import BlobStorage, StoredBlob
from twinbridge.storage.signing import new_upload_secret, upload_secret_digest

NOT_INITIALIZED = "notInitialized"
INITIALIZED = "initialized"
EMPTY = "empty"
FROM_BASELINE = "fromBaseline"
VISIBLE = "visible"
# The changeset slot of a path holds an id (40 hex digits) or an index: all digits and shorter is an index
# (the rule of Bentley's clients, IModelsApiUrlFormatter).
CHANGESET_ID_LENGTH = 40


class IModelNotFound(NotFound):
    default_code = "iModelNotFound"
    default_message = "Requested iModel is not available."


class IModelExists(Conflict):
    default_code = "iModelExists"
    default_message = "iModel with the same name already exists within the iTwin."


class IModelAlreadyInitialized(Conflict):
    default_code = "iModelAlreadyInitialized"
    default_message = "The iModel already has a baseline file."


class IModelNotInitialized(Conflict):
    default_code = "iModelNotInitialized"
    default_message = "The iModel has no baseline file yet."


class ChangesetNotFound(NotFound):
    default_code = "ChangesetNotFound"
    default_message = "Requested Changeset is not available."


class CheckpointNotFound(NotFound):
    default_code = "CheckpointNotFound"
    default_message = "Requested Checkpoint is not available."


class NamedVersionNotFound(NotFound):
    default_code = "NamedVersionNotFound"
    default_message = "Requested Named Version is not available."


class NamedVersionExists(Conflict):
    default_code = "NamedVersionExists"
    default_message = "Named Version with the same name already exists within the iModel."


class NamedVersionOnChangesetExists(Conflict):
    default_code = "NamedVersionOnChangesetExists"
    default_message = "Named Version already exists on the Changeset."


class EmptyIModelNotCreated(ApiError):
    """503: the iModel engine, which makes empty iModels, could not be started or failed."""

    status_code = 503
    default_code = "ServiceUnavailable"
    default_message = "The empty iModel could not be made."


def baseline_problem(message: str) -> InvalidRequest:
    return InvalidRequest(details=[ErrorDetail("InvalidBaselineFile", message, "baselineFile")])


def version_key(imodel_id: str, changeset_index: int) -> str:
    return f"imodels/{imodel_id}/versions/{changeset_index:06d}.bim"


def upload_key(imodel_id: str) -> str:
    return f"uploads/imodels/{imodel_id}/baseline.bim"


def block_key(imodel_id: str, block_id: str) -> str:
    """Where a Put Block's bytes wait: block ids are the client's (base64), so the key uses their hash."""
    return f"uploads/imodels/{imodel_id}/blocks/{hashlib.sha256(block_id.encode()).hexdigest()}"


def version_download_subject(imodel_id: str, changeset_index: int) -> str:
    """What a version's signed download URL signs."""
    return f"imodels/{imodel_id}/versions/{changeset_index}"


def changeset_id_of(parent_changeset_id: str | None, sha256: str) -> str:
    """A changeset's id: 40 hex digits, like upstream's, from the id before it and the snapshot's hash.

    Chained through the parent, two versions with the same bytes (a synchronization that changed nothing)
    still get different ids, as upstream changesets do.
    """
    return hashlib.sha256(f"{parent_changeset_id or ''}:{sha256}".encode()).hexdigest()[:CHANGESET_ID_LENGTH]


def changeset_slot(slot: str) -> int | str:
    """A path's changeset slot as an index (int) or an id (str)."""
    return int(slot) if slot.isdigit() and len(slot) < CHANGESET_ID_LENGTH else slot


def creation_mode(body: IModelCreate) -> str:
    """Which creation a body asks for: `creationMode`, or, as upstream infers it for clients that send none
    (iTwin.js, `createFromBaseline`), fromBaseline with a `baselineFile` and empty without one."""
    mode = body.creation_mode or (FROM_BASELINE if body.baseline_file is not None else EMPTY)
    problems: list[ErrorDetail] = []
    if mode == "fromiModelVersion" or body.template is not None:
        target = "template" if body.template is not None else "creationMode"
        problems.append(
            invalid_value(
                target,
                "Creating an iModel from a version of another iModel (creationMode fromiModelVersion, "
                "template) is not supported by this server.",
            )
        )
    elif mode == FROM_BASELINE and body.baseline_file is None:
        problems.append(missing_property("baselineFile"))
    elif mode == EMPTY and body.baseline_file is not None:
        problems.append(
            invalid_value("baselineFile", "baselineFile is given only with creationMode fromBaseline.")
        )
    if body.geographic_coordinate_system is not None and mode != EMPTY:
        problems.append(
            invalid_value(
                "geographicCoordinateSystem",
                "geographicCoordinateSystem is given only when creating an empty iModel "
                "(creationMode empty): a baseline file has its own.",
            )
        )
    if body.containers_enabled not in (None, 0):
        problems.append(
            invalid_value(
                "containersEnabled",
                "This server makes iModels without containers: containersEnabled must be 0 (None).",
            )
        )
    if problems:
        raise InvalidRequest(details=problems)
    return mode


async def make_empty_imodel_file(settings: Settings, imodel_id: str, body: IModelCreate) -> Path:
    """The snapshot of a new empty iModel, made by the engine outside any transaction (it takes a second)."""
    path = settings.data_dir / "tmp" / f"empty-{imodel_id}.bim"
    path.parent.mkdir(parents=True, exist_ok=True)
    request = EmptySnapshotRequest(
        imodel_id=imodel_id,
        name=body.name,
        description=body.description,
        extent=body.extent.as_dict() if body.extent else None,
        horizontal_crs_id=(
            body.geographic_coordinate_system.horizontal_crs_id if body.geographic_coordinate_system else None
        ),
    )
    try:
        return await asyncio.to_thread(make_empty_snapshot, path, request, settings.data_dir / "engine-cache")
    except CoordinateSystemNotAvailable as problem:
        raise InvalidRequest(
            details=[
                invalid_value(
                    "geographicCoordinateSystem.horizontalCRSId",
                    "Provided geographicCoordinateSystem.horizontalCRSId value cannot be applied: "
                    f"{problem}.",
                )
            ]
        ) from None
    except SnapshotNotMade as problem:
        await asyncio.to_thread(remove_snapshot, path)
        raise EmptyIModelNotCreated(
            f"The empty iModel could not be made by the iModel engine: {problem}"
        ) from None


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

    async def _check_name(self, itwin_id: str, name: str, other_than: str | None = None) -> None:
        if await self.repository.name_taken(itwin_id, name, other_than):
            raise IModelExists()

    async def _add(self, imodel: IModel) -> IModel:
        try:
            return await self.repository.add(imodel)
        except IntegrityError:  # another request took the name since the check
            raise IModelExists() from None

    # ---- creation

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
        imodel = await self._add(
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

    async def check_new(self, body: IModelCreate, caller: str) -> None:
        """May `caller` create this iModel? Checked before the engine makes its file."""
        await self._check_itwin(body.itwin_id, caller, Action.MODIFY)
        await self._check_name(body.itwin_id, body.name)

    async def create_empty(self, imodel_id: str, body: IModelCreate, snapshot: Path, caller: str) -> IModel:
        """An initialized iModel whose baseline is the empty snapshot the engine made for it."""
        await self.check_new(body, caller)
        imodel = await self._add(
            IModel(
                id=imodel_id,
                itwin_id=body.itwin_id,
                name=body.name,
                description=body.description,
                state=INITIALIZED,
                created_by=caller,
                extent=body.extent.as_dict() if body.extent else None,
                horizontal_crs_id=(
                    body.geographic_coordinate_system.horizontal_crs_id
                    if body.geographic_coordinate_system
                    else None
                ),
            )
        )
        await self._store_baseline(imodel, lambda key: self.blobs.put_file(key, snapshot), caller)
        return imodel

    async def create_awaiting_baseline(self, body: IModelCreate, caller: str) -> tuple[IModel, str]:
        """The first step of the "fromBaseline" flow: an iModel waiting for its file at a secret URL; the
        iModel and the URL's secret, which is kept only hashed (the create response is the one to show it)."""
        assert body.baseline_file is not None
        await self.check_new(body, caller)
        secret = new_upload_secret()
        imodel = await self._add(
            IModel(
                id=new_guid(),
                itwin_id=body.itwin_id,
                name=body.name,
                description=body.description,
                state=NOT_INITIALIZED,
                created_by=caller,
                baseline_upload_token_hash=secret.digest,
                baseline_expected_size=body.baseline_file.size,
                extent=body.extent.as_dict() if body.extent else None,
            )
        )
        return imodel, secret.value

    # ---- the baseline upload

    async def upload_target(self, imodel_id: str, token: str) -> IModel:
        """The iModel an upload URL belongs to; the URL's token authorizes, as a SAS URL would."""
        imodel = await self.repository.get_by_upload_token_hash(imodel_id, upload_secret_digest(token))
        if imodel is None:
            raise IModelNotFound()
        if imodel.state != NOT_INITIALIZED:
            raise IModelAlreadyInitialized()
        return imodel

    async def record_block(self, imodel: IModel, block_id: str, size: int) -> str:
        """Lists a Put Block's blob (before it is written, so that no blob escapes the list); its key."""
        key = block_key(imodel.id, block_id)
        await self.repository.add_upload_block(
            IModelUploadBlock(imodel_id=imodel.id, block_key=key, size=size)
        )
        return key

    async def blocks_in_order(self, imodel: IModel, block_ids: list[str]) -> list[str]:
        """The blob keys of a Put Block List's blocks, in its order; every block must have been put."""
        known = {block.block_key for block in await self.repository.upload_blocks(imodel.id)}
        keys = [block_key(imodel.id, block_id) for block_id in block_ids]
        missing = [block_id for block_id, key in zip(block_ids, keys, strict=True) if key not in known]
        if missing or not all(await asyncio.to_thread(lambda: [self.blobs.exists(key) for key in keys])):
            raise InvalidRequest(
                details=[
                    ErrorDetail(
                        "InvalidBlockList",
                        f"The block list names blocks that were not uploaded: {', '.join(missing[:5])}."
                        if missing
                        else "A block of the list is no longer stored; upload it again.",
                        "comp",
                    )
                ]
            )
        return keys

    async def forget_blocks(self, imodel_id: str) -> None:
        """Deletes every block of the iModel's block upload, once this transaction has committed."""
        keys = [block.block_key for block in await self.repository.upload_blocks(imodel_id)]
        await self.repository.forget_upload_blocks(imodel_id)
        if keys:
            self.transaction.after_commit(lambda: self._delete_blobs(keys))

    def _delete_blobs(self, keys: list[str]) -> None:
        for key in keys:
            self.blobs.delete(key)

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
        await self.forget_blocks(imodel.id)
        imodel.state = INITIALIZED
        imodel.baseline_upload_token_hash = None
        await self.repository.update(imodel)
        return imodel, version

    # ---- reading, updating, listing, deleting

    async def authorized(self, imodel_id: str, caller: str, action: Action) -> IModel:
        found = await self.repository.get_with_role(imodel_id, caller)
        if found is None:
            raise IModelNotFound()
        imodel, role = found
        authorize(role, action)
        return imodel

    async def update(self, imodel_id: str, caller: str, changes: IModelUpdate) -> IModel:
        """PATCH: the properties given change; the name stays unique in the iTwin. The extent is the
        iModel's metadata: its stored versions are immutable snapshots and keep theirs."""
        given = changes.model_fields_set & {"name", "description", "extent"}
        if not given:
            raise InvalidRequest(
                details=[
                    ErrorDetail(
                        "MissingRequiredProperty", "Provide at least one of name, description and extent."
                    )
                ]
            )
        if "name" in given and changes.name is None:
            raise InvalidRequest(details=[invalid_value("name", "Provided name value is not valid: null.")])
        imodel = await self.authorized(imodel_id, caller, Action.MODIFY)
        if changes.name is not None and changes.name != imodel.name:
            await self._check_name(imodel.itwin_id, changes.name, other_than=imodel.id)
            imodel.name = changes.name
        if "description" in given:
            imodel.description = changes.description
        if "extent" in given:
            imodel.extent = changes.extent.as_dict() if changes.extent else None
        try:
            await self.repository.update(imodel)
        except IntegrityError:
            raise IModelExists() from None
        return imodel

    async def list_in_itwin(
        self, itwin_id: str, caller: str, page: Page, where: IModelFilter | None = None
    ) -> list[IModel]:
        await self.itwins.authorized(itwin_id, caller, Action.READ)
        return await self.repository.list_in_itwin(itwin_id, page.skip, page.fetch_limit, where)

    async def delete(self, imodel_id: str, caller: str) -> None:
        imodel = await self.authorized(imodel_id, caller, Action.MODIFY)
        keys = [version.blob_key for version in await self.repository.all_versions(imodel.id)]
        keys += [block.block_key for block in await self.repository.upload_blocks(imodel.id)]
        keys.append(upload_key(imodel.id))
        keys += await blob_keys_kept_for(self.transaction, imodel.id)
        await self.repository.delete(imodel)
        self.transaction.after_commit(lambda: self._delete_blobs(keys))

    # ---- versions and changesets

    async def add_version(
        self,
        imodel_id: str,
        path: Path,
        created_by: str | None,
        *,
        description: str | None = None,
        synchronization_info: dict[str, Any] | None = None,
    ) -> IModelVersion:
        """Stores a new snapshot as the iModel's next version (synchronization never edits one in place).

        `synchronization_info` is the changeset's `{"taskId", "changedFiles"}` when a synchronization made it.
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
                changeset_id=changeset_id_of(latest.changeset_id if latest else None, blob.sha256)
                if index
                else None,
                blob_key=key,
                size=blob.size,
                sha256=blob.sha256,
                description=description,
                synchronization_info=synchronization_info,
                created_by=created_by,
            )
        )

    async def baseline(self, imodel_id: str) -> IModelVersion | None:
        versions = await self.repository.list_versions(imodel_id, offset=0, limit=1)
        return versions[0] if versions else None

    async def changesets(
        self, imodel_id: str, page: Page, where: ChangesetFilter | None = None
    ) -> list[IModelVersion]:
        """Versions after the baseline, as the iModels API lists changesets (index 1 and on)."""
        return await self.repository.list_changesets(imodel_id, page.skip, page.fetch_limit, where)

    async def changeset(self, imodel_id: str, slot: str) -> IModelVersion:
        """The changeset a path names by id or index (the baseline, index 0, is no changeset)."""
        wanted = changeset_slot(slot)
        if isinstance(wanted, int):
            version = await self.repository.version_at(imodel_id, wanted) if wanted > 0 else None
        else:
            version = await self.repository.version_with_changeset_id(imodel_id, wanted)
        if version is None or version.changeset_index == 0:
            raise ChangesetNotFound()
        return version

    async def checkpoint(self, imodel_id: str, slot: str) -> IModelVersion:
        """The version whose snapshot is the checkpoint of a changeset; index 0 is the baseline's."""
        wanted = changeset_slot(slot)
        if wanted == 0:
            version = await self.repository.version_at(imodel_id, 0)
            if version is None:
                raise CheckpointNotFound()
            return version
        return await self.changeset(imodel_id, slot)

    async def latest_checkpoint(self, imodel_id: str) -> IModelVersion:
        version = await self.repository.latest_version(imodel_id)
        if version is None:
            raise CheckpointNotFound()
        return version

    async def version_to_download(self, imodel_id: str, changeset_index: int) -> IModelVersion:
        """The version a signed download URL names (the URL's signature is checked by the caller)."""
        version = await self.repository.version_at(imodel_id, changeset_index)
        if version is None:
            raise CheckpointNotFound()
        return version


class NamedVersionService:
    """Named versions over the iModel's versions: one per version at most, unique names per iModel."""

    def __init__(self, transaction: Transaction, blobs: BlobStorage) -> None:
        self.transaction = transaction
        self.imodels = IModelService(transaction, blobs)
        self.repository = NamedVersionRepository(transaction)

    async def _get(self, imodel_id: str, named_version_id: str) -> NamedVersion:
        named_version = await self.repository.get(imodel_id, named_version_id)
        if named_version is None:
            raise NamedVersionNotFound()
        return named_version

    async def create(self, imodel_id: str, caller: str, body: NamedVersionCreate) -> NamedVersion:
        """On the changeset `changesetId` names or, without one, on the baseline (as upstream)."""
        imodel = await self.imodels.authorized(imodel_id, caller, Action.MODIFY)
        if body.changeset_id is not None:
            version = await self.imodels.repository.version_with_changeset_id(imodel.id, body.changeset_id)
            if version is None or version.changeset_index == 0:
                raise ChangesetNotFound()
        else:
            version = await self.imodels.repository.version_at(imodel.id, 0)
            if version is None:
                raise IModelNotInitialized()
        if await self.repository.name_taken(imodel.id, body.name):
            raise NamedVersionExists()
        if await self.repository.on_changeset(imodel.id, version.changeset_index) is not None:
            raise NamedVersionOnChangesetExists()
        try:
            return await self.repository.add(
                NamedVersion(
                    id=new_guid(),
                    imodel_id=imodel.id,
                    name=body.name,
                    description=body.description,
                    changeset_index=version.changeset_index,
                    changeset_id=version.changeset_id,
                    state=VISIBLE,
                    created_by=caller,
                )
            )
        except IntegrityError:  # a concurrent create took the name or the changeset since the checks
            raise NamedVersionOnChangesetExists() from None

    async def get(self, imodel_id: str, named_version_id: str, caller: str) -> NamedVersion:
        await self.imodels.authorized(imodel_id, caller, Action.READ)
        return await self._get(imodel_id, named_version_id)

    async def update(
        self, imodel_id: str, named_version_id: str, caller: str, changes: NamedVersionUpdate
    ) -> NamedVersion:
        given = changes.model_fields_set & {"name", "description", "state"}
        if not given:
            raise InvalidRequest(
                details=[
                    ErrorDetail(
                        "MissingRequiredProperty", "Provide at least one of name, description and state."
                    )
                ]
            )
        for name in ("name", "state"):
            if name in given and getattr(changes, name) is None:
                raise InvalidRequest(
                    details=[invalid_value(name, f"Provided {name} value is not valid: null.")]
                )
        await self.imodels.authorized(imodel_id, caller, Action.MODIFY)
        named_version = await self._get(imodel_id, named_version_id)
        if changes.name is not None and changes.name != named_version.name:
            if await self.repository.name_taken(imodel_id, changes.name, other_than=named_version.id):
                raise NamedVersionExists()
            named_version.name = changes.name
        if "description" in given:
            named_version.description = changes.description
        if changes.state is not None:
            named_version.state = changes.state
        try:
            return await self.repository.update(named_version)
        except IntegrityError:
            raise NamedVersionExists() from None

    async def list(
        self, imodel_id: str, caller: str, page: Page, where: NamedVersionFilter | None = None
    ) -> list[NamedVersion]:
        await self.imodels.authorized(imodel_id, caller, Action.READ)
        return await self.repository.list(imodel_id, page.skip, page.fetch_limit, where)

    async def checkpoint(self, imodel_id: str, named_version_id: str, caller: str) -> IModelVersion:
        named_version = await self.get(imodel_id, named_version_id, caller)
        version = await self.imodels.repository.version_at(imodel_id, named_version.changeset_index)
        if version is None:
            raise CheckpointNotFound()
        return version
