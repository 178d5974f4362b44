"""The request journal: read it, filtered, newest first; clear it (twinbridge's own; see
docs/compatibility.md). Neither operation is journaled itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from twinbridge.control.access import CONTROL_PREFIX
from twinbridge.control.journal.schemas import entry_view
from twinbridge.control.journal.service import JournalFilter
from twinbridge.control.middleware import RequestControl, get_request_control
from twinbridge.platform.handlers import invalid_request_code

router = APIRouter(
    prefix=f"{CONTROL_PREFIX}/journal",
    tags=["Control: journal"],
)
Control = Annotated[RequestControl, Depends(get_request_control)]


@router.get("", name="get_journal")
@invalid_request_code("InvalidJournalRequest")
async def get_journal(
    control: Control,
    method: Annotated[str | None, Query(max_length=10)] = None,
    path: Annotated[
        str | None, Query(max_length=2000, description="A glob with * ? [], else a prefix.")
    ] = None,
    operation_id: Annotated[str | None, Query(alias="operationId", max_length=200)] = None,
    status: Annotated[
        str | None, Query(pattern=r"^[1-5]([0-9][0-9]|xx)$", description="A status, or a class: 4xx.")
    ] = None,
    caller: Annotated[str | None, Query(max_length=1000)] = None,
    top: Annotated[int | None, Query(alias="$top", ge=1)] = None,
) -> dict[str, Any]:
    """The requests this process answered (up to TWINBRIDGE_JOURNAL_SIZE of the last), newest first."""
    journal = control.journal
    matching = JournalFilter(method, path, operation_id, status, caller)
    return {"entries": [entry_view(entry, journal.bodies) for entry in journal.newest_first(matching, top)]}


@router.delete("", status_code=204, name="clear_journal")
async def clear_journal(control: Control) -> Response:
    control.journal.clear()
    return Response(status_code=204)
