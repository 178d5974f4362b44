"""The iTwins API: iTwins with every upstream field, their favorites and recents, and members with roles.

Every route is declared with and without its trailing slash (itwins-client sends `POST /itwins/`), so that
none depends on a redirect. Sub-resources that upstream has and this server does not (Account iTwins,
image, exports) answer 404 `ResourceNotFound`, never `iTwinNotFound` for a word taken as an id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from twinbridge.auth.identity import external_name
from twinbridge.auth.permissions import Action
from twinbridge.dependencies import Reader, Writer
from twinbridge.itwins.repository import ListKind
from twinbridge.itwins.schemas import (
    FILTER_PARAMETERS,
    REPOSITORY_PARAMETERS,
    ITwinCreate,
    ITwinUpdate,
    MemberCreate,
    itwin_body,
    itwin_filter_of,
    itwin_minimal_body,
    member_body,
    repositories_of,
)
from twinbridge.itwins.service import ITwinService, NoAccounts
from twinbridge.platform.errors import NotFound
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.pagination import PAGE_PARAMETERS, page_links, page_of
from twinbridge.platform.paging import split_page
from twinbridge.platform.prefer import PREFER_PARAMETER, return_preference
from twinbridge.platform.responses import FastJSONResponse
from twinbridge.platform.routing import documented_parameters
from twinbridge.storage.service import StorageService

router = APIRouter(prefix="/itwins", tags=["iTwins"])
INVALID = "InvalidiTwinsRequest"
LIST_PARAMETERS = (*PAGE_PARAMETERS, PREFER_PARAMETER, *FILTER_PARAMETERS)


def _no_content() -> Response:
    """204 with neither body nor Content-Type (itwin-cli parses any response with a Content-Type as JSON)."""
    return Response(status_code=204)


async def _list(request: Request, call: Reader, kind: ListKind) -> tuple[dict[str, Any], int]:
    """A page of iTwins (all the caller's, its favorites or its recents) and the X-Max-Return in force."""
    page = page_of(request)
    query = itwin_filter_of(request.query_params, request.headers)
    shape = itwin_body if return_preference(request) == "representation" else itwin_minimal_body
    async with call.transaction() as transaction:
        rows, has_next = split_page(
            await ITwinService(transaction).list_for(call.caller.subject, page, query, kind), page
        )
    body = {
        "iTwins": [shape(itwin) for itwin in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }
    return body, query.max_return


@router.post("", status_code=201)
@invalid_request_code(INVALID)
async def create_itwin(body: ITwinCreate, call: Writer) -> dict[str, Any]:
    async with call.transaction() as transaction:
        itwin = await ITwinService(transaction).create_from(body, call.caller.subject)
    return {"iTwin": itwin_body(itwin)}


@router.get("")
@documented_parameters(*LIST_PARAMETERS)
@invalid_request_code(INVALID)
async def list_itwins(request: Request, call: Reader) -> Response:
    """The iTwins the caller is a member of; Inactive ones only when asked for (status, includeInactive)."""
    body, max_return = await _list(request, call, "member")
    return FastJSONResponse(body, headers={"X-Max-Return": str(max_return)})


@router.get("/favorites")
@documented_parameters(*LIST_PARAMETERS)
@invalid_request_code(INVALID)
async def list_favorites(request: Request, call: Reader) -> dict[str, Any]:
    body, _ = await _list(request, call, "favorites")
    return body


@router.post("/favorites/{itwin_id}", status_code=204, response_class=Response)
@invalid_request_code(INVALID)
async def add_favorite(itwin_id: str, call: Writer) -> Response:
    async with call.transaction() as transaction:
        await ITwinService(transaction).add_favorite(itwin_id, call.caller.subject)
    return _no_content()


@router.delete("/favorites/{itwin_id}", status_code=204, response_class=Response)
@invalid_request_code(INVALID)
async def remove_favorite(itwin_id: str, call: Writer) -> Response:
    async with call.transaction() as transaction:
        await ITwinService(transaction).remove_favorite(itwin_id, call.caller.subject)
    return _no_content()


@router.get("/recents")
@documented_parameters(*LIST_PARAMETERS)
@invalid_request_code(INVALID)
async def list_recents(request: Request, call: Reader) -> dict[str, Any]:
    """The caller's 25 most recently used iTwins, the most recent first: those it created, changed, or
    marked with `POST /itwins/recents/{id}`."""
    body, _ = await _list(request, call, "recents")
    return body


@router.post("/recents/{itwin_id}", status_code=204, response_class=Response)
@invalid_request_code(INVALID)
async def add_recent(itwin_id: str, call: Writer) -> Response:
    async with call.transaction() as transaction:
        await ITwinService(transaction).add_recent(itwin_id, call.caller.subject)
    return _no_content()


@router.get("/myprimaryaccount", include_in_schema=False)
@invalid_request_code(INVALID)
async def get_primary_account(call: Reader) -> dict[str, Any]:
    raise NoAccounts()


@router.get("/exports", include_in_schema=False)
@router.post("/exports", include_in_schema=False)
@invalid_request_code(INVALID)
async def itwin_exports(call: Reader) -> dict[str, Any]:
    raise NotFound("iTwin exports are not served by this server; list iTwins with GET /itwins instead.")


@router.get("/{itwin_id}")
@documented_parameters(PREFER_PARAMETER)
@invalid_request_code(INVALID)
async def get_itwin(itwin_id: str, call: Reader) -> dict[str, Any]:
    """The full representation whatever `Prefer` asks: upstream documents only that one for this read."""
    async with call.transaction() as transaction:
        itwin = await ITwinService(transaction).authorized(itwin_id, call.caller.subject, Action.READ)
    return {"iTwin": itwin_body(itwin)}


@router.patch("/{itwin_id}")
@invalid_request_code(INVALID)
async def update_itwin(itwin_id: str, body: ITwinUpdate, call: Writer) -> dict[str, Any]:
    async with call.transaction() as transaction:
        itwin = await ITwinService(transaction).update(itwin_id, body, call.caller.subject)
    return {"iTwin": itwin_body(itwin)}


@router.delete("/{itwin_id}", status_code=204, response_class=Response)
@invalid_request_code(INVALID)
async def delete_itwin(itwin_id: str, call: Writer) -> Response:
    """Deletes the iTwin with its members, favorites, recents and storage (the files' bytes go once the
    deletion has committed); refused (409 iTwinNotEmpty) while it has iModels or child iTwins."""
    async with call.transaction() as transaction:
        await ITwinService(transaction).delete(
            itwin_id, call.caller.subject, StorageService(transaction, call.runtime.blobs)
        )
    return _no_content()


@router.get("/{itwin_id}/account", include_in_schema=False)
@invalid_request_code(INVALID)
async def get_itwin_account(itwin_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        await ITwinService(transaction).authorized(itwin_id, call.caller.subject, Action.READ)
    raise NoAccounts()


@router.get("/{itwin_id}/repositories")
@documented_parameters(*REPOSITORY_PARAMETERS)
@invalid_request_code(INVALID)
async def list_repositories(itwin_id: str, request: Request, call: Reader) -> dict[str, Any]:
    """The repositories every iTwin has here: its iModels and its storage. Adding repositories is not
    served (405)."""
    repositories = repositories_of(itwin_id, call.base_url, request.query_params)
    async with call.transaction() as transaction:
        await ITwinService(transaction).authorized(itwin_id, call.caller.subject, Action.READ)
    return {"repositories": repositories}


@router.get("/{itwin_id}/members")
@documented_parameters(*PAGE_PARAMETERS)
@invalid_request_code(INVALID)
async def list_members(itwin_id: str, request: Request, call: Reader) -> dict[str, Any]:
    page = page_of(request)
    async with call.transaction() as transaction:
        service = ITwinService(transaction)
        await service.authorized(itwin_id, call.caller.subject, Action.READ)
        rows, has_next = split_page(await service.list_members(itwin_id, page), page)
    return {
        "members": [member_body(member) for member in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }


@router.post("/{itwin_id}/members", status_code=201)
@invalid_request_code(INVALID)
async def add_member(itwin_id: str, body: MemberCreate, call: Writer) -> dict[str, Any]:
    async with call.transaction() as transaction:
        service = ITwinService(transaction)
        await service.authorized(itwin_id, call.caller.subject, Action.MANAGE_MEMBERS)
        member = await service.set_member(itwin_id, body.subject, body.role)
    return {"member": member_body(member)}


@router.delete("/{itwin_id}/members/{subject}", status_code=204, response_class=Response)
@invalid_request_code(INVALID)
async def remove_member(
    itwin_id: str,
    subject: str,
    call: Writer,
    issuer: Annotated[
        str | None,
        Query(description="For a caller of an external issuer: the issuer whose `sub` the path names."),
    ] = None,
) -> Response:
    """A caller is the pair (issuer, subject): the path names a built-in issuer's user or client, or with
    `issuer` the `sub` of an external issuer's caller (whose member name, `<issuer>|<sub>`, holds slashes)."""
    member = external_name(issuer, subject) if issuer else subject
    async with call.transaction() as transaction:
        service = ITwinService(transaction)
        await service.authorized(itwin_id, call.caller.subject, Action.MANAGE_MEMBERS)
        await service.remove_member(itwin_id, member)
    return _no_content()
