"""The Synchronization API: manifest connections (M1-M8) and their source files (MF1-MF5), storage
connections (S1-S8, with the singular `/run`) and their source files (SF1-SF5), both kinds listed together
(L1, Get Connections), and A1. Configurations have their own router (`synchronization.configurations`).

Manifest and storage connections share every rule but their bodies, so one factory registers both.
"""

# No `from __future__ import annotations` here: the factory annotates bodies with its own parameters, which
# FastAPI can resolve only when annotations are evaluated at definition.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from twinbridge.auth.grants import GrantService, authorization_url
from twinbridge.auth.permissions import Action
from twinbridge.auth.redirects import is_http_url
from twinbridge.auth.scopes import Access, ScopeRequirement
from twinbridge.dependencies import Call, authenticated
from twinbridge.platform.errors import InvalidRequest, invalid_value
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.pagination import PAGE_PARAMETERS, page_links, page_of
from twinbridge.platform.paging import split_page
from twinbridge.platform.prefer import PREFER_PARAMETER, return_preference
from twinbridge.platform.routing import documented_parameters
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
Reader = Annotated[Call, Depends(authenticated(ScopeRequirement("synchronization", Access.READ)))]
Writer = Annotated[Call, Depends(authenticated(ScopeRequirement("synchronization", Access.MODIFY)))]


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
        call: Writer,
    ) -> dict[str, Any]:
        async with call.transaction() as transaction:
            service = SynchronizationService(transaction)
            connection = await service.create_connection(kind, body, call.caller.subject)
        return {"connection": connection_body(connection, call.base_url)}

    @router.get(base + "/{connection_id}", name=f"get_{kind}_connection")
    @invalid_request_code(invalid)
    async def get_connection(connection_id: str, call: Reader) -> dict[str, Any]:
        async with call.transaction() as transaction:
            connection = await SynchronizationService(transaction).authorized_connection(
                kind, connection_id, call.caller.subject, Action.READ
            )
        return {"connection": connection_body(connection, call.base_url)}

    @router.get(base, name=f"list_{kind}_connections")
    @documented_parameters(*PAGE_PARAMETERS, PREFER_PARAMETER)
    @invalid_request_code(invalid)
    async def list_connections(
        request: Request,
        imodel_id: Annotated[str, Query(alias="imodelId")],
        call: Reader,
    ) -> dict[str, Any]:
        page = page_of(request)
        preference = return_preference(request)
        async with call.transaction() as transaction:
            connections = await SynchronizationService(transaction).list_connections(
                kind, imodel_id, call.caller.subject, page
            )
        rows, has_next = split_page(connections, page)
        if preference == "representation":
            items = [connection_body(item, call.base_url) for item in rows]
        else:
            items = [connection_summary(item) for item in rows]
        return {"connections": items, "_links": page_links(call.base_url, request, page, has_next)}

    @router.put(base + "/{connection_id}", name=f"update_{kind}_connection")
    @invalid_request_code(invalid)
    async def update_connection(connection_id: str, body: ConnectionUpdate, call: Writer) -> dict[str, Any]:
        async with call.transaction() as transaction:
            connection = await SynchronizationService(transaction).update_connection(
                kind, connection_id, body, call.caller.subject
            )
        return {"connection": connection_body(connection, call.base_url)}

    @router.delete(base + "/{connection_id}", status_code=204, name=f"delete_{kind}_connection")
    @invalid_request_code(invalid)
    async def delete_connection(connection_id: str, call: Writer) -> Response:
        async with call.transaction() as transaction:
            await SynchronizationService(transaction).delete_connection(
                kind, connection_id, call.caller.subject, call.runtime.blobs
            )
        return Response(status_code=204)

    async def _accepted(connection_id: str, call: Call, manifest: ManifestRunCreate | None) -> Response:
        async with call.transaction() as transaction:
            creation = await SynchronizationService(transaction).create_run(
                kind, connection_id, call.caller, manifest
            )
            if creation.created:
                run_id = creation.run.id
                transaction.after_commit(lambda: call.runtime.run_queue.enqueue(run_id))
        location = location_of(call.base_url, creation.run)
        return Response(status_code=202 if creation.created else 303, headers={"Location": location})

    if kind == MANIFEST:

        @router.post(base + "/{connection_id}/runs", status_code=202, name="create_manifest_connection_run")
        @invalid_request_code(invalid_run)
        async def create_manifest_run(connection_id: str, body: ManifestRunCreate, call: Writer) -> Response:
            return await _accepted(connection_id, call, body)

    else:

        @router.post(base + "/{connection_id}/run", status_code=202, name="create_storage_connection_run")
        @invalid_request_code(invalid_run)
        async def create_storage_run(connection_id: str, call: Writer) -> Response:
            """No body: the run synchronizes the connection's source files (note the singular /run)."""
            return await _accepted(connection_id, call, None)

    @router.get(base + "/{connection_id}/runs/{run_id}", name=f"get_{kind}_connection_run")
    @invalid_request_code(invalid_run)
    async def get_run(connection_id: str, run_id: str, call: Reader) -> dict[str, Any]:
        async with call.transaction() as transaction:
            service = SynchronizationService(transaction)
            run = await service.get_run(kind, connection_id, run_id, call.caller.subject)
        return {"run": run_body(run)}

    @router.post(
        base + "/{connection_id}/runs/{run_id}/cancel", status_code=202, name=f"cancel_{kind}_connection_run"
    )
    @invalid_request_code(invalid_run)
    async def cancel_run(connection_id: str, run_id: str, response: Response, call: Writer) -> dict[str, Any]:
        """Cancel a run: twinbridge's extension, upstream has no way to stop a run.

        202 with the run as it is now and its Location: a run no worker executes yet is Completed with
        result Canceled in the answer; an executing one ends so within seconds, writing no new iModel
        version (poll the run). 409 RunAlreadyCompleted when the run has ended.
        """
        async with call.transaction() as transaction:
            service = SynchronizationService(transaction)
            run = await service.cancel_run(kind, connection_id, run_id, call.caller.subject)
        response.headers["Location"] = location_of(call.base_url, run)
        return {"run": run_body(run)}

    @router.get(base + "/{connection_id}/runs", name=f"list_{kind}_connection_runs")
    @documented_parameters(*PAGE_PARAMETERS, PREFER_PARAMETER)
    @invalid_request_code(invalid_run)
    async def list_runs(connection_id: str, request: Request, call: Reader) -> dict[str, Any]:
        page = page_of(request)
        preference = return_preference(request)
        async with call.transaction() as transaction:
            service = SynchronizationService(transaction)
            runs = await service.list_runs(kind, connection_id, call.caller.subject, page)
        rows, has_next = split_page(runs, page)
        shape = run_body if preference == "representation" else run_summary
        return {
            "runs": [shape(run) for run in rows],
            "_links": page_links(call.base_url, request, page, has_next),
        }

    @router.post(base + "/{connection_id}/sourcefiles", status_code=201, name=f"add_{kind}_source_file")
    @invalid_request_code(invalid_source_file)
    async def add_source_file(
        connection_id: str,
        body: mapping_body,  # type: ignore[valid-type]
        call: Writer,
    ) -> dict[str, Any]:
        async with call.transaction() as transaction:
            source_file = await SynchronizationService(transaction).add_source_file(
                kind, connection_id, body, call.caller.subject
            )
        return {"sourceFile": source_file_body(source_file, call.base_url)}

    @router.get(base + "/{connection_id}/sourcefiles/{source_file_id}", name=f"get_{kind}_source_file")
    @invalid_request_code(invalid_source_file)
    async def get_source_file(connection_id: str, source_file_id: str, call: Reader) -> dict[str, Any]:
        async with call.transaction() as transaction:
            service = SynchronizationService(transaction)
            source_file = await service.source_file(kind, connection_id, source_file_id, call.caller.subject)
        return {"sourceFile": source_file_body(source_file, call.base_url)}

    @router.get(base + "/{connection_id}/sourcefiles", name=f"list_{kind}_source_files")
    @documented_parameters(*PAGE_PARAMETERS, PREFER_PARAMETER)
    @invalid_request_code(invalid_source_file)
    async def list_source_files(connection_id: str, request: Request, call: Reader) -> dict[str, Any]:
        page = page_of(request)
        preference = return_preference(request)
        async with call.transaction() as transaction:
            service = SynchronizationService(transaction)
            files = await service.list_source_files(kind, connection_id, call.caller.subject, page)
        rows, has_next = split_page(files, page)
        return {
            "sourceFiles": [source_file_body(row, call.base_url, preference == "minimal") for row in rows],
            "_links": page_links(call.base_url, request, page, has_next),
        }

    @router.put(base + "/{connection_id}/sourcefiles/{source_file_id}", name=f"update_{kind}_source_file")
    @invalid_request_code(invalid_source_file)
    async def update_source_file(
        connection_id: str,
        source_file_id: str,
        body: mapping_body,  # type: ignore[valid-type]
        call: Writer,
    ) -> dict[str, Any]:
        async with call.transaction() as transaction:
            source_file = await SynchronizationService(transaction).update_source_file(
                kind, connection_id, source_file_id, body, call.caller.subject
            )
        return {"sourceFile": source_file_body(source_file, call.base_url)}

    @router.delete(
        base + "/{connection_id}/sourcefiles/{source_file_id}",
        status_code=204,
        name=f"remove_{kind}_source_file",
    )
    @invalid_request_code(invalid_source_file)
    async def remove_source_file(connection_id: str, source_file_id: str, call: Writer) -> Response:
        async with call.transaction() as transaction:
            await SynchronizationService(transaction).remove_source_file(
                kind, connection_id, source_file_id, call.caller.subject
            )
        return Response(status_code=204)


_register(MANIFEST, ManifestConnectionCreate, ManifestFileMapping)
_register(STORAGE, StorageConnectionCreate, StorageFileMapping)


@router.get("/imodels/connections", name="list_connections")
@documented_parameters(*PAGE_PARAMETERS, PREFER_PARAMETER)
@invalid_request_code("InvalidConnectionRequest")
async def list_connections(
    request: Request, imodel_id: Annotated[str, Query(alias="imodelId")], call: Reader
) -> dict[str, Any]:
    """L1: the iModel's manifest and storage connections in one list, as Bentley's samples read it first."""
    page = page_of(request)
    preference = return_preference(request)
    async with call.transaction() as transaction:
        connections = await SynchronizationService(transaction).list_all_connections(
            imodel_id, call.caller.subject, page
        )
    rows, has_next = split_page(connections, page)
    if preference == "representation":
        items = [connection_body(item, call.base_url) for item in rows]
    else:
        items = [connection_summary(item) for item in rows]
    return {"connections": items, "_links": page_links(call.base_url, request, page, has_next)}


@router.get("/imodels/connections/authorizationinformation")
@invalid_request_code("InvalidAuthorizationInformationRequest")
async def authorization_information(
    call: Reader, redirect_url: Annotated[str | None, Query(alias="redirectUrl")] = None
) -> dict[str, Any]:
    """A1: like the Export operation, but `redirectUrl` is optional and its error says "should be"."""
    if redirect_url is not None and not is_http_url(redirect_url):
        raise InvalidRequest(details=[invalid_value("redirectUrl", "redirectUrl should be a valid URL.")])
    async with call.transaction() as transaction:
        authorized = await GrantService(transaction).caller_is_authorized(call.caller)
    href = authorization_url(call.runtime.issuer, call.caller.subject, redirect_url)
    return {
        "authorizationInformation": {
            "isUserAuthorized": authorized,
            "_links": {"authorizationUrl": {"href": href}},
        }
    }
