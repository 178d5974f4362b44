"""The Export API's eight operations (api-contract.md §2.3), with the codes and messages of the seeds."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Query, Request, Response

from twinbridge.auth.grants import GrantService, authorization_url
from twinbridge.auth.permissions import Action
from twinbridge.auth.scopes import Access, ScopeRequirement
from twinbridge.auth.tokens import Caller
from twinbridge.dependencies import RuntimeDependency, TransactionDependency, authenticated
from twinbridge.export.schemas import (
    ExportConnectionCreate,
    ExportRunCreate,
    connection_body,
    run_body,
)
from twinbridge.export.service import ExportService
from twinbridge.platform.errors import InvalidRequest, RateLimitExceeded, TooManyRequests, invalid_value
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.pagination import page_links, page_parameters
from twinbridge.platform.paging import Page, split_page
from twinbridge.runs.links import location_of

router = APIRouter(prefix="/export", tags=["Export"])
PageDependency = Annotated[Page, Depends(page_parameters)]

READ = ScopeRequirement("export", Access.READ)
MODIFY = ScopeRequirement("export", Access.MODIFY)
# Each operation answers 429 with the code its page shows (seeds 000-003; §2 of the contract).
ReaderLimited = Annotated[Caller, Depends(authenticated(READ, RateLimitExceeded))]
Reader = Annotated[Caller, Depends(authenticated(READ, TooManyRequests))]
WriterLimited = Annotated[Caller, Depends(authenticated(MODIFY, RateLimitExceeded))]
Writer = Annotated[Caller, Depends(authenticated(MODIFY, TooManyRequests))]

CONNECTION_REQUEST = "InvalidExportConnectionRequest"


@router.post("/connections", status_code=201)
@invalid_request_code(CONNECTION_REQUEST, targets={"iModelId": "imodelId"})
async def create_connection(
    body: ExportConnectionCreate,
    caller: Writer,
    transaction: TransactionDependency,
    runtime: RuntimeDependency,
) -> dict[str, Any]:
    connection = await ExportService(transaction).create_connection(body, caller.subject)
    return {"connection": connection_body(connection, runtime.settings.base_url, None)}


@router.get("/connections/{connection_id}")
@invalid_request_code(CONNECTION_REQUEST)
async def get_connection(
    connection_id: str, caller: ReaderLimited, transaction: TransactionDependency, runtime: RuntimeDependency
) -> dict[str, Any]:
    service = ExportService(transaction)
    connection = await service.authorized_connection(connection_id, caller.subject, Action.READ)
    last_run_id = await service.last_run_id(connection.id)
    return {"connection": connection_body(connection, runtime.settings.base_url, last_run_id)}


@router.get("/connections")
@invalid_request_code("InvalidConnectionsRequest")
async def list_connections(
    request: Request,
    imodel_id: Annotated[str, Query(alias="imodelId")],
    caller: Reader,
    transaction: TransactionDependency,
    runtime: RuntimeDependency,
    page: PageDependency,
) -> dict[str, Any]:
    service = ExportService(transaction)
    rows, has_next = split_page(await service.list_connections(imodel_id, caller.subject, page), page)
    last_runs = await service.last_run_ids(rows)
    base_url = runtime.settings.base_url
    return {
        "connections": [connection_body(item, base_url, last_runs.get(item.id)) for item in rows],
        "_links": page_links(base_url, request, page, has_next),
    }


@router.delete("/connections/{connection_id}", status_code=204)
@invalid_request_code(CONNECTION_REQUEST)
async def delete_connection(
    connection_id: str, caller: WriterLimited, transaction: TransactionDependency
) -> Response:
    await ExportService(transaction).delete_connection(connection_id, caller.subject)
    return Response(status_code=204)


@router.post("/connections/{connection_id}/runs", status_code=202)
@invalid_request_code("InvalidExportConnectionRunRequest")
async def create_run(
    connection_id: str,
    body: ExportRunCreate,
    caller: WriterLimited,
    transaction: TransactionDependency,
    runtime: RuntimeDependency,
) -> Response:
    """202 with Location for a new run; 303 with Location when the iModel already has an active run."""
    creation = await ExportService(transaction).create_run(connection_id, body, caller)
    location = location_of(runtime.settings.base_url, creation.run)
    if not creation.created:
        return Response(status_code=303, headers={"Location": location})
    run_id = creation.run.id
    transaction.after_commit(lambda: runtime.run_queue.enqueue(run_id))
    return Response(status_code=202, headers={"Location": location})


@router.get("/connections/{connection_id}/runs/{run_id}")
@invalid_request_code("InvalidConnectionRunRequest")
async def get_run(
    connection_id: str, run_id: str, caller: Reader, transaction: TransactionDependency
) -> dict[str, Any]:
    run = await ExportService(transaction).get_run(connection_id, run_id, caller.subject)
    return {"run": run_body(run)}


@router.get("/connections/{connection_id}/runs")
@invalid_request_code("InvalidConnectionRunRequest")
async def list_runs(
    connection_id: str,
    request: Request,
    caller: Reader,
    transaction: TransactionDependency,
    runtime: RuntimeDependency,
    page: PageDependency,
) -> dict[str, Any]:
    rows, has_next = split_page(
        await ExportService(transaction).list_runs(connection_id, caller.subject, page), page
    )
    return {
        "runs": [run_body(run) for run in rows],
        "_links": page_links(runtime.settings.base_url, request, page, has_next),
    }


def _valid_redirect_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in {"http", "https"} and bool(parsed.netloc)


@router.get("/authorizationinformation")
@invalid_request_code("InvalidAuthorizationInformationRequest", targets={"redirectUrl": "$redirectUrl"})
async def authorization_information(
    redirect_url: Annotated[str, Query(alias="redirectUrl")],
    caller: Reader,
    transaction: TransactionDependency,
    runtime: RuntimeDependency,
) -> dict[str, Any]:
    """Whether runs may act for the caller; service callers need no grant."""
    if not _valid_redirect_url(redirect_url):
        raise InvalidRequest(details=[invalid_value("$redirectUrl", "redirectUrl must be a valid URL.")])
    authorized = await GrantService(transaction).caller_is_authorized(caller)
    return {
        "authorizationInformation": {
            "isUserAuthorized": authorized,
            "_links": {
                "authorizationUrl": {"href": authorization_url(runtime.issuer, caller.subject, redirect_url)}
            },
        }
    }
