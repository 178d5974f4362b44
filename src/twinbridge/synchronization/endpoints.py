"""The Synchronization API: manifest connections (M1-M8) and their source files (MF1-MF5), storage
connections (S1-S8, with the singular `/run`) and their source files (SF1-SF5), and A1.

Manifest and storage connections share every rule but their bodies, so one factory registers both.
"""

# No `from __future__ import annotations` here: the factory annotates bodies with its own parameters, which
# FastAPI can resolve only when annotations are evaluated at definition.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from twinbridge.auth.grants import GrantService, authorization_url
from twinbridge.auth.permissions import Action
from twinbridge.auth.scopes import Access, ScopeRequirement
from twinbridge.auth.tokens import Caller
from twinbridge.dependencies import RuntimeDependency, TransactionDependency, authenticated
from twinbridge.platform.errors import InvalidRequest, invalid_value
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.pagination import page_links, page_parameters
from twinbridge.platform.paging import Page, split_page
from twinbridge.platform.prefer import ReturnPreference, return_preference
from twinbridge.runs.links import location_of
from twinbridge.synchronization.schemas import (
    ConnectionUpdate,
    ManifestConnectionCreate,
    ManifestFileMapping,
    ManifestRunCreate,
    StorageConnectionCreate,
    StorageFileMapping,
    connection_body,
    connection_path,
    connection_summary,
    run_body,
    run_summary,
    source_file_body,
)
from twinbridge.synchronization.service import MANIFEST, STORAGE, SynchronizationService

router = APIRouter(prefix="/synchronization", tags=["Synchronization"])
PageDependency = Annotated[Page, Depends(page_parameters)]
PreferDependency = Annotated[ReturnPreference, Depends(return_preference)]
Reader = Annotated[Caller, Depends(authenticated(ScopeRequirement("synchronization", Access.READ)))]
Writer = Annotated[Caller, Depends(authenticated(ScopeRequirement("synchronization", Access.MODIFY)))]


def _register(kind: str, create_body: type[Any], mapping_body: type[Any]) -> None:
    """Registers the connection, source-file and run operations of one kind of connection."""
    base = connection_path(kind).removeprefix("/synchronization")
    title = "ManifestConnection" if kind == MANIFEST else "StorageConnection"
    invalid = f"Invalid{title}Request"
    invalid_source_file = f"Invalid{title}SourceFileRequest"
    invalid_run = f"Invalid{title}RunRequest"

    @router.post(base, status_code=201, name=f"create_{kind}_connection")
    @invalid_request_code(invalid)
    async def create_connection(
        body: create_body,  # type: ignore[valid-type]
        caller: Writer,
        transaction: TransactionDependency,
        runtime: RuntimeDependency,
    ) -> dict[str, Any]:
        connection = await SynchronizationService(transaction).create_connection(kind, body, caller.subject)
        return {"connection": connection_body(connection, runtime.settings.base_url, None)}

    @router.get(base + "/{connection_id}", name=f"get_{kind}_connection")
    @invalid_request_code(invalid)
    async def get_connection(
        connection_id: str, caller: Reader, transaction: TransactionDependency, runtime: RuntimeDependency
    ) -> dict[str, Any]:
        service = SynchronizationService(transaction)
        connection = await service.authorized_connection(kind, connection_id, caller.subject, Action.READ)
        last_run = await service.last_run_id(connection.id)
        return {"connection": connection_body(connection, runtime.settings.base_url, last_run)}

    @router.get(base, name=f"list_{kind}_connections")
    @invalid_request_code(invalid)
    async def list_connections(
        request: Request,
        imodel_id: Annotated[str, Query(alias="imodelId")],
        caller: Reader,
        transaction: TransactionDependency,
        runtime: RuntimeDependency,
        page: PageDependency,
        preference: PreferDependency,
    ) -> dict[str, Any]:
        service = SynchronizationService(transaction)
        rows, has_next = split_page(
            await service.list_connections(kind, imodel_id, caller.subject, page), page
        )
        base_url = runtime.settings.base_url
        if preference == "representation":
            last_runs = await service.last_run_ids(rows)
            items = [connection_body(item, base_url, last_runs.get(item.id)) for item in rows]
        else:
            items = [connection_summary(item) for item in rows]
        return {"connections": items, "_links": page_links(base_url, request, page, has_next)}

    @router.put(base + "/{connection_id}", name=f"update_{kind}_connection")
    @invalid_request_code(invalid)
    async def update_connection(
        connection_id: str,
        body: ConnectionUpdate,
        caller: Writer,
        transaction: TransactionDependency,
        runtime: RuntimeDependency,
    ) -> dict[str, Any]:
        service = SynchronizationService(transaction)
        connection = await service.update_connection(kind, connection_id, body, caller.subject)
        last_run = await service.last_run_id(connection.id)
        return {"connection": connection_body(connection, runtime.settings.base_url, last_run)}

    @router.delete(base + "/{connection_id}", status_code=204, name=f"delete_{kind}_connection")
    @invalid_request_code(invalid)
    async def delete_connection(
        connection_id: str, caller: Writer, transaction: TransactionDependency
    ) -> Response:
        await SynchronizationService(transaction).delete_connection(kind, connection_id, caller.subject)
        return Response(status_code=204)

    async def _accepted(
        connection_id: str, caller: Caller, transaction: Any, runtime: Any, manifest: ManifestRunCreate | None
    ) -> Response:
        creation = await SynchronizationService(transaction).create_run(kind, connection_id, caller, manifest)
        location = location_of(runtime.settings.base_url, creation.run)
        if not creation.created:
            return Response(status_code=303, headers={"Location": location})
        run_id = creation.run.id
        transaction.after_commit(lambda: runtime.run_queue.enqueue(run_id))
        return Response(status_code=202, headers={"Location": location})

    if kind == MANIFEST:

        @router.post(base + "/{connection_id}/runs", status_code=202, name="create_manifest_connection_run")
        @invalid_request_code(invalid_run)
        async def create_manifest_run(
            connection_id: str,
            body: ManifestRunCreate,
            caller: Writer,
            transaction: TransactionDependency,
            runtime: RuntimeDependency,
        ) -> Response:
            return await _accepted(connection_id, caller, transaction, runtime, body)

    else:

        @router.post(base + "/{connection_id}/run", status_code=202, name="create_storage_connection_run")
        @invalid_request_code(invalid_run)
        async def create_storage_run(
            connection_id: str, caller: Writer, transaction: TransactionDependency, runtime: RuntimeDependency
        ) -> Response:
            """No body: the run synchronizes the connection's source files (note the singular /run)."""
            return await _accepted(connection_id, caller, transaction, runtime, None)

    @router.get(base + "/{connection_id}/runs/{run_id}", name=f"get_{kind}_connection_run")
    @invalid_request_code(invalid_run)
    async def get_run(
        connection_id: str, run_id: str, caller: Reader, transaction: TransactionDependency
    ) -> dict[str, Any]:
        run = await SynchronizationService(transaction).get_run(kind, connection_id, run_id, caller.subject)
        return {"run": run_body(run)}

    @router.get(base + "/{connection_id}/runs", name=f"list_{kind}_connection_runs")
    @invalid_request_code(invalid_run)
    async def list_runs(
        connection_id: str,
        request: Request,
        caller: Reader,
        transaction: TransactionDependency,
        runtime: RuntimeDependency,
        page: PageDependency,
        preference: PreferDependency,
    ) -> dict[str, Any]:
        service = SynchronizationService(transaction)
        rows, has_next = split_page(await service.list_runs(kind, connection_id, caller.subject, page), page)
        shape = run_body if preference == "representation" else run_summary
        return {
            "runs": [shape(run) for run in rows],
            "_links": page_links(runtime.settings.base_url, request, page, has_next),
        }

    @router.post(base + "/{connection_id}/sourcefiles", status_code=201, name=f"add_{kind}_source_file")
    @invalid_request_code(invalid_source_file)
    async def add_source_file(
        connection_id: str,
        body: mapping_body,  # type: ignore[valid-type]
        caller: Writer,
        transaction: TransactionDependency,
        runtime: RuntimeDependency,
    ) -> dict[str, Any]:
        source_file = await SynchronizationService(transaction).add_source_file(
            kind, connection_id, body, caller.subject
        )
        return {"sourceFile": source_file_body(source_file, runtime.settings.base_url)}

    @router.get(base + "/{connection_id}/sourcefiles/{source_file_id}", name=f"get_{kind}_source_file")
    @invalid_request_code(invalid_source_file)
    async def get_source_file(
        connection_id: str,
        source_file_id: str,
        caller: Reader,
        transaction: TransactionDependency,
        runtime: RuntimeDependency,
    ) -> dict[str, Any]:
        service = SynchronizationService(transaction)
        source_file = await service.source_file(kind, connection_id, source_file_id, caller.subject)
        return {"sourceFile": source_file_body(source_file, runtime.settings.base_url)}

    @router.get(base + "/{connection_id}/sourcefiles", name=f"list_{kind}_source_files")
    @invalid_request_code(invalid_source_file)
    async def list_source_files(
        connection_id: str,
        request: Request,
        caller: Reader,
        transaction: TransactionDependency,
        runtime: RuntimeDependency,
        page: PageDependency,
        preference: PreferDependency,
    ) -> dict[str, Any]:
        service = SynchronizationService(transaction)
        rows, has_next = split_page(
            await service.list_source_files(kind, connection_id, caller.subject, page), page
        )
        base_url = runtime.settings.base_url
        return {
            "sourceFiles": [source_file_body(row, base_url, preference == "minimal") for row in rows],
            "_links": page_links(base_url, request, page, has_next),
        }

    @router.put(base + "/{connection_id}/sourcefiles/{source_file_id}", name=f"update_{kind}_source_file")
    @invalid_request_code(invalid_source_file)
    async def update_source_file(
        connection_id: str,
        source_file_id: str,
        body: mapping_body,  # type: ignore[valid-type]
        caller: Writer,
        transaction: TransactionDependency,
        runtime: RuntimeDependency,
    ) -> dict[str, Any]:
        service = SynchronizationService(transaction)
        source_file = await service.update_source_file(
            kind, connection_id, source_file_id, body, caller.subject
        )
        return {"sourceFile": source_file_body(source_file, runtime.settings.base_url)}

    @router.delete(
        base + "/{connection_id}/sourcefiles/{source_file_id}",
        status_code=204,
        name=f"remove_{kind}_source_file",
    )
    @invalid_request_code(invalid_source_file)
    async def remove_source_file(
        connection_id: str, source_file_id: str, caller: Writer, transaction: TransactionDependency
    ) -> Response:
        await SynchronizationService(transaction).remove_source_file(
            kind, connection_id, source_file_id, caller.subject
        )
        return Response(status_code=204)


_register(MANIFEST, ManifestConnectionCreate, ManifestFileMapping)
_register(STORAGE, StorageConnectionCreate, StorageFileMapping)


@router.get("/imodels/connections/authorizationinformation")
@invalid_request_code("InvalidAuthorizationInformationRequest")
async def authorization_information(
    caller: Reader,
    transaction: TransactionDependency,
    runtime: RuntimeDependency,
    redirect_url: Annotated[str | None, Query(alias="redirectUrl")] = None,
) -> dict[str, Any]:
    """A1: like the Export operation, but `redirectUrl` is optional and its error says "should be"."""
    if redirect_url is not None and not redirect_url.lower().startswith(("http://", "https://")):
        raise InvalidRequest(details=[invalid_value("redirectUrl", "redirectUrl should be a valid URL.")])
    authorized = await GrantService(transaction).caller_is_authorized(caller)
    href = authorization_url(runtime.issuer, caller.subject, redirect_url)
    return {
        "authorizationInformation": {
            "isUserAuthorized": authorized,
            "_links": {"authorizationUrl": {"href": href}},
        }
    }
