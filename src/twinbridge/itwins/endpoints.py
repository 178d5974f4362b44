"""The minimal iTwins API: create, get, list, and members with roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from twinbridge.auth.permissions import Action
from twinbridge.dependencies import Reader, Writer
from twinbridge.itwins.schemas import ITwinCreate, MemberCreate, itwin_body, member_body
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.pagination import PAGE_PARAMETERS, page_links, page_of
from twinbridge.platform.paging import split_page
from twinbridge.platform.routing import documented_parameters

router = APIRouter(prefix="/itwins", tags=["iTwins"])
INVALID = "InvalidiTwinsRequest"


@router.post("", status_code=201)
@invalid_request_code(INVALID)
async def create_itwin(body: ITwinCreate, call: Writer) -> dict[str, Any]:
    async with call.transaction() as transaction:
        itwin = await ITwinService(transaction).create(
            body.display_name, call.caller.subject, body.number, body.sub_class
        )
    return {"iTwin": itwin_body(itwin)}


@router.get("")
@documented_parameters(*PAGE_PARAMETERS)
@invalid_request_code(INVALID)
async def list_itwins(request: Request, call: Reader) -> dict[str, Any]:
    page = page_of(request)
    async with call.transaction() as transaction:
        rows, has_next = split_page(await ITwinService(transaction).list_for(call.caller.subject, page), page)
    return {
        "iTwins": [itwin_body(itwin) for itwin in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }


@router.get("/{itwin_id}")
@invalid_request_code(INVALID)
async def get_itwin(itwin_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        itwin = await ITwinService(transaction).authorized(itwin_id, call.caller.subject, Action.READ)
    return {"iTwin": itwin_body(itwin)}


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


@router.delete("/{itwin_id}/members/{subject}", status_code=204)
@invalid_request_code(INVALID)
async def remove_member(itwin_id: str, subject: str, call: Writer) -> Response:
    async with call.transaction() as transaction:
        service = ITwinService(transaction)
        await service.authorized(itwin_id, call.caller.subject, Action.MANAGE_MEMBERS)
        await service.remove_member(itwin_id, subject)
    return Response(status_code=204)
