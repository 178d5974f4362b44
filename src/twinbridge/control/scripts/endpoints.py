"""Scripted runs and holds under /_twinbridge/ (control API; no token, like LocalStack's and moto's own)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from twinbridge.control.access import CONTROL_PREFIX
from twinbridge.control.scripts.schemas import ScriptRuleBody, hold_view, rule_view
from twinbridge.control.scripts.service import INVALID, ScriptService
from twinbridge.dependencies import RuntimeDependency
from twinbridge.platform.handlers import invalid_request_code

router = APIRouter(prefix=CONTROL_PREFIX, tags=["Control: scripted runs"])


@router.post("/scripts", status_code=201, name="create_script")
@invalid_request_code(INVALID)
async def create_script(body: ScriptRuleBody, runtime: RuntimeDependency) -> dict[str, Any]:
    """A rule: the runs it matches follow its script (or crash their engine once) instead of working."""
    async with runtime.database.transaction() as transaction:
        rule = await ScriptService(transaction).create(
            body, scripted_runs_only=runtime.settings.scripted_runs_only
        )
    return {"script": rule_view(rule)}


@router.get("/scripts", name="list_scripts")
async def list_scripts(runtime: RuntimeDependency) -> dict[str, Any]:
    """Every rule, newest (the one that wins when several match) first."""
    async with runtime.database.transaction(write=False) as transaction:
        rules = await ScriptService(transaction).rules()
    return {"scripts": [rule_view(rule) for rule in rules]}


@router.delete("/scripts/{script_id}", status_code=204, name="delete_script")
async def delete_script(script_id: str, runtime: RuntimeDependency) -> Response:
    async with runtime.database.transaction() as transaction:
        await ScriptService(transaction).delete(script_id)
    return Response(status_code=204)


@router.delete("/scripts", status_code=204, name="delete_scripts")
async def delete_scripts(runtime: RuntimeDependency) -> Response:
    async with runtime.database.transaction() as transaction:
        await ScriptService(transaction).delete_all()
    return Response(status_code=204)


@router.get("/holds", name="list_holds")
async def list_holds(runtime: RuntimeDependency) -> dict[str, Any]:
    """The runs held now and the state each shows: a test waits for its run to appear here."""
    async with runtime.database.transaction(write=False) as transaction:
        held = await ScriptService(transaction).held()
    return {"holds": [hold_view(scripted) for scripted in held]}


@router.post("/holds/{run_id}/release", status_code=204, name="release_hold")
async def release_hold(run_id: str, runtime: RuntimeDependency) -> Response:
    """Lets a held run go on with its script; 404 HoldNotFound for a run that is not held."""
    async with runtime.database.transaction() as transaction:
        await ScriptService(transaction).release(run_id)
    return Response(status_code=204)
