"""The rules of the Synchronization API's connections, source files and runs.

Manifest connections map the caller's document ids (`sourceFileId`) and receive pre-authenticated URLs with
each run; storage connections map files of the server's storage (`storageFileId`) with their connector type.
A file maps into an iModel at most once (409 `FileMappingToTheIModelAlreadyExists`). Runs follow the same
rules as Export runs: one active run per iModel.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from twinbridge.auth.permissions import Action, authorize
from twinbridge.db.database import IntegrityError, Transaction
from twinbridge.db.models import IModel, Run, SyncConnection, SyncSourceFile
from twinbridge.imodels.repository import IModelRepository
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.errors import (
    Conflict,
    ErrorDetail,
    InvalidRequest,
    NotFound,
    invalid_value,
    missing_property,
)
from twinbridge.platform.ids import new_guid
from twinbridge.platform.outbound import url_problem
from twinbridge.platform.paging import Page
from twinbridge.runs.service import JobPlan, RunCreation, RunNotFound, RunService
from twinbridge.runs.states import JobPhase, RunKind
from twinbridge.storage.blobs import BlobStorage
from twinbridge.storage.repository import StorageRepository
from twinbridge.storage.service import COMPLETE
from twinbridge.synchronization.reports.service import ReportService
from twinbridge.synchronization.repository import RUN_OWNER, SyncConnectionRepository
from twinbridge.synchronization.schemas import (
    ConnectionCreate,
    ConnectionUpdate,
    ManifestConnectionCreate,
    ManifestRunCreate,
    ManifestRunFile,
    StorageConnectionCreate,
    StorageFileMapping,
)

if TYPE_CHECKING:
    from twinbridge.auth.tokens import Caller

MANIFEST = "manifest"
# What a manifest run does with a file: synchronize it (bridge), or take its elements out (unmap).
BRIDGE = "bridge"
UNMAP = "unmap"
ACTIONS = (BRIDGE, UNMAP)
MAX_FILE_NAME_LENGTH = 255
MAX_CLASS_NAME_LENGTH = 255
# A file's document properties are metadata, kept in its RepositoryLink: bounded like a request body part.
MAX_DOCUMENT_ATTRIBUTE_BYTES = 64 * 1024
STORAGE = "storage"
_TITLES = {MANIFEST: "ManifestConnection", STORAGE: "StorageConnection"}


def connection_not_found(kind: str) -> NotFound:
    title = _TITLES[kind]
    return NotFound(code=f"{title}NotFound", message=f"Requested {title} is not available.")


def source_file_not_found(kind: str) -> NotFound:
    title = _TITLES[kind]
    return NotFound(
        code=f"{title}SourceFileNotFound", message=f"Requested {title}SourceFile is not available."
    )


class FileMappingExists(Conflict):
    default_code = "FileMappingToTheIModelAlreadyExists"
    default_message = "The SourceFile is already mapped to the iModel."


class SynchronizationService:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction
        self.connections = SyncConnectionRepository(transaction)
        self.imodels = IModelRepository(transaction)
        self.itwins = ITwinService(transaction)
        self.storage = StorageRepository(transaction)
        self.runs = RunService(transaction)

    async def _imodel_for_create(self, imodel_id: str, caller: str) -> IModel:
        imodel = await self.imodels.get(imodel_id)
        if imodel is None:
            raise InvalidRequest(details=[invalid_value("iModelId")])
        await self.itwins.authorized(imodel.itwin_id, caller, Action.MODIFY)
        return imodel

    async def _storage_file_name(self, itwin_id: str, storage_file_id: str, target: str) -> str:
        """The stored file's name; the file must be a complete file of the connection's iTwin."""
        stored = await self.storage.get_file(storage_file_id)
        if stored is None or stored.itwin_id != itwin_id or stored.state != COMPLETE:
            raise InvalidRequest(
                details=[invalid_value(target, "Provided storageFileId value is not valid.")]
            )
        return stored.display_name

    async def _flush_mappings(self, source_files: list[SyncSourceFile]) -> list[SyncSourceFile]:
        try:
            return await self.connections.add_source_files(source_files)
        except IntegrityError:
            raise FileMappingExists() from None

    async def _mapping(
        self, connection: SyncConnection, file: Any, ordinal: int, target: str
    ) -> SyncSourceFile:
        if connection.kind == STORAGE:
            assert isinstance(file, StorageFileMapping)
            name = await self._storage_file_name(connection.itwin_id, file.storage_file_id, target)
            key, connector_type = file.storage_file_id, file.connector_type
        else:
            key, connector_type, name = file.source_file_id, None, None
        return SyncSourceFile(
            id=new_guid(),
            connection_id=connection.id,
            imodel_id=connection.imodel_id,
            kind=connection.kind,
            file_key=key,
            connector_type=connector_type,
            last_known_file_name=name,
            ordinal=ordinal,
        )

    async def create_connection(self, kind: str, body: ConnectionCreate, caller: str) -> SyncConnection:
        assert isinstance(body, ManifestConnectionCreate | StorageConnectionCreate)
        imodel = await self._imodel_for_create(body.imodel_id, caller)
        connection = await self.connections.add(
            SyncConnection(
                id=secrets.token_urlsafe(32),  # opaque base64url ids, like the cloud's
                kind=kind,
                imodel_id=imodel.id,
                itwin_id=imodel.itwin_id,
                display_name=body.display_name if body.display_name is not None else imodel.name,
                authentication_type=body.authentication_type,
                created_by=caller,
            )
        )
        mappings = [
            await self._mapping(connection, file, index, f"sourceFiles[{index}].storageFileId")
            for index, file in enumerate(body.source_files)
        ]
        await self._flush_mappings(mappings)
        return connection

    async def authorized_connection(
        self, kind: str, connection_id: str, caller: str, action: Action
    ) -> SyncConnection:
        found = await self.connections.get_with_role(kind, connection_id, caller)
        if found is None:
            raise connection_not_found(kind)
        connection, role = found
        authorize(role, action)
        return connection

    async def list_connections(
        self, kind: str, imodel_id: str, caller: str, page: Page
    ) -> list[SyncConnection]:
        exists, role = await self.imodels.role_on(imodel_id, caller)
        if not exists:
            raise InvalidRequest(details=[invalid_value("imodelId")])
        authorize(role, Action.READ)
        return await self.connections.list_for_imodel(kind, imodel_id, page.skip, page.fetch_limit)

    async def list_all_connections(self, imodel_id: str, caller: str, page: Page) -> list[SyncConnection]:
        """Get Connections: manifest and storage connections of the iModel in one list, oldest first."""
        found = await self.connections.page_of_imodel(imodel_id, caller, page.skip, page.fetch_limit)
        if found is None:
            raise InvalidRequest(details=[invalid_value("imodelId")])
        role, connections = found
        authorize(role, Action.READ)
        return connections

    async def update_connection(
        self, kind: str, connection_id: str, body: ConnectionUpdate, caller: str
    ) -> SyncConnection:
        connection = await self.authorized_connection(kind, connection_id, caller, Action.MODIFY)
        if body.display_name is not None:
            connection.display_name = body.display_name
        if body.authentication_type is not None:
            connection.authentication_type = body.authentication_type
        return await self.connections.update(connection)

    async def delete_connection(
        self, kind: str, connection_id: str, caller: str, blobs: BlobStorage | None = None
    ) -> None:
        """Deletes the connection with its runs; `blobs` given, their diagnostic reports' blobs too."""
        connection = await self.authorized_connection(kind, connection_id, caller, Action.MODIFY)
        if blobs is not None:
            await ReportService(self.transaction, blobs).forget_connection(connection.id)
        await self.runs.forget_connection(connection.id)
        await self.connections.delete(connection)

    async def add_source_file(self, kind: str, connection_id: str, file: Any, caller: str) -> SyncSourceFile:
        connection = await self.authorized_connection(kind, connection_id, caller, Action.MODIFY)
        ordinal = await self.connections.next_ordinal(connection.id)
        mapping = await self._mapping(connection, file, ordinal, "storageFileId")
        return (await self._flush_mappings([mapping]))[0]

    async def source_file(
        self, kind: str, connection_id: str, source_file_id: str, caller: str
    ) -> SyncSourceFile:
        connection = await self.authorized_connection(kind, connection_id, caller, Action.READ)
        found = await self.connections.get_source_file(connection.id, source_file_id)
        if found is None:
            raise source_file_not_found(kind)
        return found

    async def list_source_files(
        self, kind: str, connection_id: str, caller: str, page: Page
    ) -> list[SyncSourceFile]:
        connection = await self.authorized_connection(kind, connection_id, caller, Action.READ)
        return await self.connections.list_source_files(connection.id, page.skip, page.fetch_limit)

    async def update_source_file(
        self, kind: str, connection_id: str, source_file_id: str, file: Any, caller: str
    ) -> SyncSourceFile:
        connection = await self.authorized_connection(kind, connection_id, caller, Action.MODIFY)
        existing = await self.connections.get_source_file(connection.id, source_file_id)
        if existing is None:
            raise source_file_not_found(kind)
        replacement = await self._mapping(connection, file, existing.ordinal, "storageFileId")
        existing.file_key = replacement.file_key
        existing.connector_type = replacement.connector_type
        existing.last_known_file_name = replacement.last_known_file_name
        try:
            return await self.connections.update_source_file(existing)
        except IntegrityError:
            raise FileMappingExists() from None

    async def remove_source_file(
        self, kind: str, connection_id: str, source_file_id: str, caller: str
    ) -> None:
        connection = await self.authorized_connection(kind, connection_id, caller, Action.MODIFY)
        existing = await self.connections.get_source_file(connection.id, source_file_id)
        if existing is None:
            raise source_file_not_found(kind)
        await self.connections.delete_source_file(existing)

    async def create_run(
        self, kind: str, connection_id: str, caller: Caller, manifest: ManifestRunCreate | None = None
    ) -> RunCreation:
        connection = await self.authorized_connection(kind, connection_id, caller.subject, Action.MODIFY)
        mapped = await self.connections.all_source_files(connection.id)
        if kind == STORAGE:
            if not mapped:
                raise InvalidRequest(
                    details=[
                        ErrorDetail("InvalidValue", "The connection has no source files to synchronize.")
                    ]
                )
            files = [
                {
                    "id": item.file_key,
                    "key": item.id,
                    "connectorType": item.connector_type,
                    "name": item.last_known_file_name,
                    "phase": JobPhase.MASTER_FILE.value,
                }
                for item in mapped
            ]
        else:
            assert manifest is not None
            if manifest.source_files is None:
                files = await self._earlier_manifest_files(connection.id, [item.file_key for item in mapped])
            else:
                files = _manifest_files(
                    manifest.source_files,
                    {item.file_key for item in mapped},
                    manifest.document_attribute_schema_url,
                )
        jobs: dict[str, list[str | None]] = {}
        for file in files:
            jobs.setdefault(str(file["connectorType"]), []).append(str(file["id"]))
        return await self.runs.create(
            kind=RunKind(kind),
            connection_id=connection.id,
            imodel_id=connection.imodel_id,
            caller=caller,
            connection_authentication_type=connection.authentication_type,
            options={"files": files},
            jobs=[JobPlan(connector_type=connector, task_sources=ids) for connector, ids in jobs.items()],
        )

    async def _earlier_manifest_files(self, connection_id: str, mapped: list[str]) -> list[dict[str, Any]]:
        """A manifest run without `sourceFiles` synchronizes every source file of the connection, each from
        the URL (with the name and connector type) the connection's latest run that synchronized it gave."""
        latest: dict[str, dict[str, Any]] = {}
        for files in await self.connections.run_files(connection_id):
            for file in files:
                if file.get("phase") == JobPhase.MASTER_FILE.value and file.get("action", BRIDGE) == BRIDGE:
                    latest.setdefault(str(file["id"]), file)
        unknown = [file_id for file_id in mapped if file_id not in latest]
        if not mapped or unknown:
            reason = (
                "The connection has no source files to synchronize."
                if not mapped
                else f"Source file '{unknown[0]}' has not been synchronized with a URL yet; give sourceFiles."
            )
            raise InvalidRequest(details=[invalid_value("sourceFiles", reason)])
        return [{**latest[file_id], "action": BRIDGE} for file_id in mapped]

    async def get_run(self, kind: str, connection_id: str, run_id: str, caller: str) -> Run:
        runs = await self._readable_runs(kind, connection_id, caller, run_id=run_id)
        if not runs:
            raise RunNotFound()
        return runs[0]

    async def list_runs(self, kind: str, connection_id: str, caller: str, page: Page) -> list[Run]:
        return await self._readable_runs(kind, connection_id, caller, page=page)

    async def cancel_run(self, kind: str, connection_id: str, run_id: str, caller: str) -> Run:
        """twinbridge's extension (upstream cannot stop a run): needs the rights that start one."""
        runs = await self._readable_runs(kind, connection_id, caller, run_id=run_id, action=Action.MODIFY)
        if not runs:
            raise RunNotFound()
        return await self.runs.cancel(runs[0])

    async def _readable_runs(
        self,
        kind: str,
        connection_id: str,
        caller: str,
        run_id: str | None = None,
        page: Page | None = None,
        action: Action = Action.READ,
    ) -> list[Run]:
        found = await self.runs.read_connection(
            RUN_OWNER, {"connection_id": connection_id, "kind": kind, "subject": caller}, run_id, page
        )
        if found is None:
            raise connection_not_found(kind)
        authorize(found[1], action)
        return found[2]


def file_name_problem(name: str) -> str | None:
    """Why a manifest file's `name` cannot name a file; None when it can. The server never uses it as a
    path (runs make a local name of its last part), but such a name is a mistake to tell the caller of."""
    if name.strip() in {"", ".", ".."}:
        return f"'{name}' is not a file name"
    if len(name) > MAX_FILE_NAME_LENGTH:
        return f"it is longer than {MAX_FILE_NAME_LENGTH} characters"
    if any(ord(character) < 32 or ord(character) == 127 for character in name):
        return "it contains a control character"
    return None


def _document_of(document: dict[str, Any] | None, schema_url: str | None) -> dict[str, Any]:
    if document is None:
        return {}
    if schema_url is None:
        return {"documentAttribute": document}
    return {"documentAttribute": document, "documentAttributeSchemaUrl": schema_url}


def document_attribute_problems(document: dict[str, Any], target: str) -> list[ErrorDetail]:
    """What is wrong with a file's documentAttribute: it needs a `className` string, and its `properties`
    (optional) must be an object of strings, numbers, booleans or nulls, as document systems' are."""
    problems = []
    class_name = document.get("className")
    if class_name is None:
        problems.append(missing_property(f"{target}.className"))
    elif not isinstance(class_name, str) or not 0 < len(class_name.strip()) <= MAX_CLASS_NAME_LENGTH:
        problems.append(
            invalid_value(
                f"{target}.className",
                f"Provided {target}.className value is not valid: not a name of 1 to {MAX_CLASS_NAME_LENGTH} "
                "characters.",
            )
        )
    properties = document.get("properties", {})
    if not isinstance(properties, dict):
        problems.append(
            invalid_value(
                f"{target}.properties", f"Provided {target}.properties value is not valid: not an object."
            )
        )
        return problems
    for name, value in properties.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            problems.append(
                invalid_value(
                    f"{target}.properties.{name}",
                    f"Provided {target}.properties.{name} value is not valid: not a string, number, boolean "
                    "or null.",
                )
            )
    if len(json.dumps(document)) > MAX_DOCUMENT_ATTRIBUTE_BYTES:
        problems.append(
            invalid_value(
                target,
                f"Provided {target} value is not valid: larger than {MAX_DOCUMENT_ATTRIBUTE_BYTES} bytes.",
            )
        )
    return problems


def _manifest_files(
    files: list[ManifestRunFile], mapped: set[str], document_schema_url: str | None = None
) -> list[dict[str, Any]]:
    """The run's files, master files first, then their children as reference files.

    The manifest's documentAttributeSchemaUrl goes with each file that has a documentAttribute, so that a
    later run without sourceFiles gives the file the same; the URL is recorded, not fetched.
    """
    flattened: list[dict[str, Any]] = []
    problems: list[ErrorDetail] = []
    schema_reason = None if document_schema_url is None else url_problem(document_schema_url)
    if schema_reason is not None:
        name = "documentAttributeSchemaUrl"
        problems.append(invalid_value(name, f"Provided {name} value is not valid: {schema_reason}."))

    def visit(file: ManifestRunFile, target: str, phase: JobPhase) -> None:
        connector_type = file.connector_type or (file.connector.upper() if file.connector else None)
        action = (file.action or BRIDGE).lower()
        if action not in ACTIONS:
            problems.append(
                invalid_value(
                    f"{target}.action", f"Provided {target}.action value is not valid: not bridge or unmap."
                )
            )
        elif action == UNMAP and phase is not JobPhase.MASTER_FILE:
            problems.append(
                invalid_value(
                    f"{target}.action", "A reference file cannot be unmapped; unmap its master file."
                )
            )
        if phase is JobPhase.MASTER_FILE and file.id not in mapped:
            problems.append(
                invalid_value(f"{target}.id", f"Source file '{file.id}' is not mapped to the connection.")
            )
        if connector_type is None:
            name = f"{target}.connectorType"
            problems.append(ErrorDetail("MissingRequiredProperty", f"{name} was not provided.", name))
        if file.url is None:
            if action != UNMAP:
                problems.append(missing_property(f"{target}.url"))
        else:
            url_reason = url_problem(file.url)
            if url_reason is not None:
                problems.append(
                    invalid_value(f"{target}.url", f"Provided {target}.url value is not valid: {url_reason}.")
                )
        if file.document_attribute is not None:
            document_target = f"{target}.documentAttribute"
            problems.extend(document_attribute_problems(file.document_attribute, document_target))
        name_reason = None if file.name is None else file_name_problem(file.name)
        if name_reason is not None:
            problems.append(
                invalid_value(f"{target}.name", f"Provided {target}.name value is not valid: {name_reason}.")
            )
        flattened.append(
            {
                "id": file.id,
                "name": file.name or file.id,
                "url": file.url,
                "connectorType": connector_type,
                "phase": phase.value,
                "action": action,
                **_document_of(file.document_attribute, document_schema_url),
            }
        )
        if action == UNMAP:
            return  # its references go with it
        for index, child in enumerate(file.children):
            visit(child, f"{target}.children[{index}]", JobPhase.REFERENCE_FILE)

    for index, file in enumerate(files):
        visit(file, f"sourceFiles[{index}]", JobPhase.MASTER_FILE)
    if problems:
        raise InvalidRequest(details=problems)
    return flattened
