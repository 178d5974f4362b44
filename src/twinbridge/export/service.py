"""The rules of the Export API: connections to iModels, and runs that export them to IFC."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twinbridge.auth.permissions import Action, authorize
from twinbridge.db.database import Transaction
from twinbridge.db.models import ExportConnection, Run
from twinbridge.export.repository import RUN_OWNER, ExportConnectionRepository
from twinbridge.export.schemas import ExportConnectionCreate, ExportRunCreate
from twinbridge.imodels.repository import IModelRepository
from twinbridge.imodels.service import INITIALIZED
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.errors import ErrorDetail, InvalidRequest, NotFound, invalid_value
from twinbridge.platform.ids import new_guid
from twinbridge.platform.paging import Page
from twinbridge.runs.service import JobPlan, RunCreation, RunNotFound, RunService
from twinbridge.runs.states import RunKind
from twinbridge.storage.repository import StorageRepository
from twinbridge.storage.service import root_folder_id

if TYPE_CHECKING:
    from twinbridge.auth.tokens import Caller


class ConnectionNotFound(NotFound):
    default_code = "ConnectionNotFound"
    default_message = "Requested Connection is not available."


class IModelOfConnectionsNotFound(NotFound):
    """Seed 001: listing the connections of an iModel that does not exist."""

    default_code = "ConnectionNotFound"
    default_message = "Requested iModelId is not available."


class ExportService:
    def __init__(self, transaction: Transaction) -> None:
        self.connections = ExportConnectionRepository(transaction)
        self.imodels = IModelRepository(transaction)
        self.itwins = ITwinService(transaction)
        self.runs = RunService(transaction)
        self.folders = StorageRepository(transaction)

    async def create_connection(self, body: ExportConnectionCreate, caller: str) -> ExportConnection:
        imodel = await self.imodels.get(body.imodel_id)
        if imodel is None:
            # Seed 002 answers an unknown iModel with a 422 naming `imodelId`.
            raise InvalidRequest(details=[invalid_value("imodelId", "Provided imodelId value is not valid.")])
        await self.itwins.authorized(imodel.itwin_id, caller, Action.MODIFY)
        return await self.connections.add(
            ExportConnection(
                id=new_guid(),
                imodel_id=imodel.id,
                itwin_id=imodel.itwin_id,
                display_name=body.display_name if body.display_name is not None else imodel.name,
                authentication_type=body.authentication_type,
                created_by=caller,
            )
        )

    async def authorized_connection(
        self, connection_id: str, caller: str, action: Action
    ) -> ExportConnection:
        found = await self.connections.get_with_role(connection_id, caller)
        if found is None:
            raise ConnectionNotFound()
        connection, role = found
        authorize(role, action)
        return connection

    async def list_connections(self, imodel_id: str, caller: str, page: Page) -> list[ExportConnection]:
        exists, role = await self.imodels.role_on(imodel_id, caller)
        if not exists:
            raise IModelOfConnectionsNotFound()
        authorize(role, Action.READ)
        return await self.connections.list_for_imodel(imodel_id, page.skip, page.fetch_limit)

    async def delete_connection(self, connection_id: str, caller: str) -> None:
        """Deletes the connection with its run history; refused while one of its runs is active."""
        connection = await self.authorized_connection(connection_id, caller, Action.MODIFY)
        await self.runs.forget_connection(connection.id)
        await self.connections.delete(connection)

    async def create_run(self, connection_id: str, body: ExportRunCreate, caller: Caller) -> RunCreation:
        connection = await self.authorized_connection(connection_id, caller.subject, Action.MODIFY)
        imodel = await self.imodels.get(connection.imodel_id)
        if imodel is None or imodel.state != INITIALIZED:
            raise InvalidRequest(
                details=[ErrorDetail("InvalidValue", "The iModel has no baseline file yet.", "iModelId")]
            )
        output = body.output_options
        if output.location == "USER_BLOB_STORAGE" and not output.output_sas_url:
            raise InvalidRequest(
                details=[
                    ErrorDetail(
                        "MissingRequiredProperty",
                        "outputOptions.outputSasUrl was not provided.",
                        "outputOptions.outputSasUrl",
                    )
                ]
            )
        if output.folder_id is not None and not await self._is_folder_of(output.folder_id, imodel.itwin_id):
            raise InvalidRequest(
                details=[
                    invalid_value(
                        "outputOptions.folderId",
                        "Provided outputOptions.folderId value is not valid: it is not a folder of the "
                        "iModel's iTwin.",
                    )
                ]
            )
        options: dict[str, Any] = body.model_dump(by_alias=True, exclude_none=True)
        return await self.runs.create(
            kind=RunKind.EXPORT,
            connection_id=connection.id,
            imodel_id=connection.imodel_id,
            caller=caller,
            connection_authentication_type=connection.authentication_type,
            options=options,
            jobs=[JobPlan()],
        )

    async def _is_folder_of(self, folder_id: str, itwin_id: str) -> bool:
        if folder_id == root_folder_id(itwin_id):  # the root exists before anyone has listed it
            return True
        folder = await self.folders.get_folder(folder_id)
        return folder is not None and folder.itwin_id == itwin_id

    async def get_run(self, connection_id: str, run_id: str, caller: str) -> Run:
        runs = await self._readable_runs(connection_id, caller, run_id=run_id)
        if not runs:
            raise RunNotFound()
        return runs[0]

    async def list_runs(self, connection_id: str, caller: str, page: Page) -> list[Run]:
        return await self._readable_runs(connection_id, caller, page=page)

    async def cancel_run(self, connection_id: str, run_id: str, caller: str) -> Run:
        """twinbridge's extension (upstream cannot stop a run): needs the rights that start one."""
        runs = await self._readable_runs(connection_id, caller, run_id=run_id, action=Action.MODIFY)
        if not runs:
            raise RunNotFound()
        return await self.runs.cancel(runs[0])

    async def _readable_runs(
        self,
        connection_id: str,
        caller: str,
        run_id: str | None = None,
        page: Page | None = None,
        action: Action = Action.READ,
    ) -> list[Run]:
        found = await self.runs.read_connection(
            RUN_OWNER, {"connection_id": connection_id, "subject": caller}, run_id, page
        )
        if found is None:
            raise ConnectionNotFound()
        authorize(found[1], action)
        return found[2]
