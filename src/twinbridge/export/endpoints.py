"""The Export API's eight operations (api-contract.md §2.3), with the codes and messages of the seeds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from twinbridge.auth.grants import GrantService, authorization_url
from twinbridge.auth.permissions import Action
from twinbridge.auth.redirects import is_http_url
from twinbridge.auth.scopes import Access, ScopeRequirement
from twinbridge.dependencies import Call, authenticated
from twinbridge.export.schemas import (
    ExportConnectionCreate,
    ExportRunCreate,
    connection_body,
    run_body,
)
from twinbridge.export.service import ExportService
from twinbridge.platform.errors import InvalidRequest, RateLimitExceeded, TooManyRequests, invalid_value
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.pagination import PAGE_PARAMETERS, page_links, page_of
from twinbridge.platform.paging import split_page
from twinbridge.platform.routing import documented_parameters
from twinbridge.runs.links import location_of

router = APIRouter(prefix="/export", tags=["Export"])

READ = ScopeRequirement("export", Access.READ)
MODIFY = ScopeRequirement("export", Access.MODIFY)
# Each operation answers 429 with the code its page shows (seeds 000-003; §2 of the contract).
ReaderLimited = Annotated[Call, Depends(authenticated(READ, RateLimitExceeded))]
Reader = Annotated[Call, Depends(authenticated(READ, TooManyRequests))]
WriterLimited = Annotated[Call, Depends(authenticated(MODIFY, RateLimitExceeded))]
Writer = Annotated[Call, Depends(authenticated(MODIFY, TooManyRequests))]

CONNECTION_REQUEST = "InvalidExportConnectionRequest"


@router.post("/connections", status_code=201)
@invalid_request_code(CONNECTION_REQUEST, targets={"iModelId": "imodelId"})
async def create_connection(body: ExportConnectionCreate, call: Writer) -> dict[str, Any]:
    async with call.transaction() as transaction:
        connection = await ExportService(transaction).create_connection(body, call.caller.subject)
    return {"connection": connection_body(connection, call.base_url)}


@router.get("/connections/{connection_id}")
@invalid_request_code(CONNECTION_REQUEST)
async def get_connection(connection_id: str, call: ReaderLimited) -> dict[str, Any]:
    async with call.transaction() as transaction:
        connection = await ExportService(transaction).authorized_connection(
            connection_id, call.caller.subject, Action.READ
        )
    return {"connection": connection_body(connection, call.base_url)}


@router.get("/connections")
@documented_parameters(*PAGE_PARAMETERS)
@invalid_request_code("InvalidConnectionsRequest")
async def list_connections(
    request: Request,
    imodel_id: Annotated[str, Query(alias="imodelId")],
    call: Reader,
) -> dict[str, Any]:
    page = page_of(request)
    async with call.transaction() as transaction:
        connections = await ExportService(transaction).list_connections(imodel_id, call.caller.subject, page)
    rows, has_next = split_page(connections, page)
    return {
        "connections": [connection_body(item, call.base_url) for item in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }


@router.delete("/connections/{connection_id}", status_code=204)
@invalid_request_code(CONNECTION_REQUEST)
async def delete_connection(connection_id: str, call: WriterLimited) -> Response:
    async with call.transaction() as transaction:
        await ExportService(transaction).delete_connection(connection_id, call.caller.subject)
    return Response(status_code=204)


@router.post("/connections/{connection_id}/runs", status_code=202)
@invalid_request_code("InvalidExportConnectionRunRequest")
async def create_run(connection_id: str, body: ExportRunCreate, call: WriterLimited) -> Response:
    """202 with Location for a new run; 303 with Location when the iModel already has an active run."""
    async with call.transaction() as transaction:
        creation = await ExportService(transaction).create_run(connection_id, body, call.caller)
        if creation.created:
            run_id = creation.run.id
            transaction.after_commit(lambda: call.runtime.run_queue.enqueue(run_id))
    location = location_of(call.base_url, creation.run)
    return Response(status_code=202 if creation.created else 303, headers={"Location": location})


@router.get("/connections/{connection_id}/runs/{run_id}")
@invalid_request_code("InvalidConnectionRunRequest")
async def get_run(connection_id: str, run_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        run = await ExportService(transaction).get_run(connection_id, run_id, call.caller.subject)
    return {"run": run_body(run)}


@router.post("/connections/{connection_id}/runs/{run_id}/cancel", status_code=202)
@invalid_request_code("InvalidConnectionRunRequest")
async def cancel_run(
    connection_id: str, run_id: str, response: Response, call: WriterLimited
) -> dict[str, Any]:
    """Cancel a run: twinbridge's extension, upstream has no way to stop a run.

    202 with the run as it is now and its Location: a run no worker executes yet is Completed with result
    Canceled in the answer; an executing one ends so within seconds, with no output file (poll the run).
    409 RunAlreadyCompleted when the run has ended.
    """
    async with call.transaction() as transaction:
        run = await ExportService(transaction).cancel_run(connection_id, run_id, call.caller.subject)
    response.headers["Location"] = location_of(call.base_url, run)
    return {"run": run_body(run)}


@router.get("/connections/{connection_id}/runs")
@documented_parameters(*PAGE_PARAMETERS)
@invalid_request_code("InvalidConnectionRunRequest")
async def list_runs(connection_id: str, request: Request, call: Reader) -> dict[str, Any]:
    page = page_of(request)
    async with call.transaction() as transaction:
        runs = await ExportService(transaction).list_runs(connection_id, call.caller.subject, page)
    rows, has_next = split_page(runs, page)
    return {
        "runs": [run_body(run) for run in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }


@router.get("/authorizationinformation")
@invalid_request_code("InvalidAuthorizationInformationRequest", targets={"redirectUrl": "$redirectUrl"})
async def authorization_information(
    redirect_url: Annotated[str, Query(alias="redirectUrl")], call: Reader
) -> dict[str, Any]:
    """Whether runs may act for the caller; service callers need no grant."""
    if not is_http_url(redirect_url):
        raise InvalidRequest(details=[invalid_value("$redirectUrl", "redirectUrl must be a valid URL.")])
    async with call.transaction() as transaction:
        authorized = await GrantService(transaction).caller_is_authorized(call.caller)
    href = authorization_url(call.runtime.issuer, call.caller.subject, redirect_url)
    return {
        "authorizationInformation": {
            "isUserAuthorized": authorized,
            "_links": {"authorizationUrl": {"href": href}},
        }
    }
