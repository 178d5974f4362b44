"""Reset and snapshots under /_twinbridge/ (only with TWINBRIDGE_CONTROL_API=1; no token, like LocalStack's
and moto's own endpoints). twinbridge's own operations: the iTwin Platform has none of them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from twinbridge.control.access import CONTROL_PREFIX
from twinbridge.control.state.schemas import SnapshotCreate, SnapshotName, snapshot_body
from twinbridge.control.state.service import StateService
from twinbridge.db.database import Transaction
from twinbridge.dependencies import RuntimeDependency
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.runtime import Runtime

# No prefix of its own: other control routers take the whole /_twinbridge prefix (a PrefixRoute answers every
# path under its prefix), so these routes are listed before them, each with its full path.
router = APIRouter(tags=["Control"])
INVALID = "InvalidSnapshotRequest"


def _service(runtime: Runtime, transaction: Transaction) -> StateService:
    return StateService(transaction, runtime.blobs, runtime.settings.data_dir)


@router.post(f"{CONTROL_PREFIX}/reset", status_code=204, name="reset")
async def reset(runtime: RuntimeDependency) -> Response:
    """Wipes every iTwin, iModel, file, connection, run and report, and every stored blob."""
    async with runtime.database.transaction() as transaction:
        await _service(runtime, transaction).reset()
    return Response(status_code=204)


@router.post(f"{CONTROL_PREFIX}/snapshots", status_code=201, name="create_snapshot")
@invalid_request_code(INVALID)
async def create_snapshot(body: SnapshotCreate, runtime: RuntimeDependency) -> dict[str, Any]:
    """Saves the whole state (database rows and stored blobs) under a name."""
    async with runtime.database.transaction() as transaction:
        created = await _service(runtime, transaction).create_snapshot(body.name)
    return {"snapshot": snapshot_body(created)}


@router.get(f"{CONTROL_PREFIX}/snapshots", name="list_snapshots")
async def list_snapshots(runtime: RuntimeDependency) -> dict[str, Any]:
    async with runtime.database.transaction(write=False) as transaction:
        found = await _service(runtime, transaction).list_snapshots()
    return {"snapshots": [snapshot_body(summary) for summary in found]}


@router.post(CONTROL_PREFIX + "/snapshots/{name}/restore", status_code=204, name="restore_snapshot")
@invalid_request_code(INVALID)
async def restore_snapshot(name: SnapshotName, runtime: RuntimeDependency) -> Response:
    """Puts back exactly the state the snapshot saved: its rows and its blobs, nothing made since."""
    async with runtime.database.transaction() as transaction:
        await _service(runtime, transaction).restore_snapshot(name)
    return Response(status_code=204)


@router.delete(CONTROL_PREFIX + "/snapshots/{name}", status_code=204, name="delete_snapshot")
@invalid_request_code(INVALID)
async def delete_snapshot(name: SnapshotName, runtime: RuntimeDependency) -> Response:
    async with runtime.database.transaction() as transaction:
        await _service(runtime, transaction).delete_snapshot(name)
    return Response(status_code=204)
