"""Fault rules: create, list, delete one, delete all (twinbridge's own; see docs/compatibility.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from twinbridge.control.access import CONTROL_PREFIX
from twinbridge.control.faults.schemas import FaultRuleBody
from twinbridge.control.faults.service import FaultRule
from twinbridge.control.middleware import RequestControl, get_request_control
from twinbridge.platform.handlers import invalid_request_code

router = APIRouter(
    prefix=f"{CONTROL_PREFIX}/faults",
    tags=["Control: faults"],
)
Control = Annotated[RequestControl, Depends(get_request_control)]
INVALID = "InvalidFaultRequest"


def rule_view(rule: FaultRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "operationId": rule.operation_id,
        "method": rule.method,
        "path": rule.path,
        "action": rule.action,
        "status": rule.status,
        "code": rule.code,
        "message": rule.message,
        "retryAfter": rule.retry_after,
        "latencyMs": rule.latency_ms,
        "probability": rule.probability,
        "seed": rule.seed,
        "remaining": rule.remaining,
        "fired": rule.fired,
    }


@router.post("", status_code=201, name="create_fault")
@invalid_request_code(INVALID)
async def create_fault(body: FaultRuleBody, control: Control, request: Request) -> dict[str, Any]:
    """A rule that makes matching requests (never those of the control API) answer an error, wait, or lose
    their connection; it lives in this process's memory until deleted or used up."""
    known = control.operation_ids(request.app).known
    return {"fault": rule_view(control.faults.add(body, known))}


@router.get("", name="list_faults")
async def list_faults(control: Control) -> dict[str, Any]:
    """The rules in the order they are tried, with what is left of their counts."""
    return {"faults": [rule_view(rule) for rule in control.faults.rules]}


@router.delete("/{fault_id}", status_code=204, name="delete_fault")
async def delete_fault(fault_id: str, control: Control) -> Response:
    control.faults.remove(fault_id)
    return Response(status_code=204)


@router.delete("", status_code=204, name="delete_faults")
async def delete_faults(control: Control) -> Response:
    control.faults.clear()
    return Response(status_code=204)
