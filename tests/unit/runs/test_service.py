"""Run creation rules, on SQLite and PostgreSQL: one active run per iModel and API."""

from __future__ import annotations

from tests.conftest import SAMPLE_IMODELS
from twinbridge.auth.tokens import Caller
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.runs.service import JobPlan, RunCreation, RunService
from twinbridge.runs.states import RunKind
from twinbridge.runtime import Runtime

ALICE = Caller(
    subject="alice", kind="user", scopes=frozenset({"itwin-platform"}), issuer="test", expires_at=0
)


async def _imodel(runtime: Runtime) -> str:
    async with runtime.database.transaction() as transaction:
        itwin = await ITwinService(transaction).create("Plant", "alice")
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, SAMPLE_IMODELS / "Building Blocks.bim", "Blocks", None, caller=None
        )
        return imported.imodel.id


async def _create(runtime: Runtime, kind: RunKind, imodel_id: str, connection_id: str) -> RunCreation:
    async with runtime.database.transaction() as transaction:
        return await RunService(transaction).create(
            kind=kind,
            connection_id=connection_id,
            imodel_id=imodel_id,
            caller=ALICE,
            connection_authentication_type="User",
            options={},
            jobs=[JobPlan()],
        )


async def test_an_export_and_a_synchronization_run_of_one_imodel_are_active_together(
    runtime: Runtime,
) -> None:
    imodel_id = await _imodel(runtime)
    export = await _create(runtime, RunKind.EXPORT, imodel_id, "export-connection")
    synchronization = await _create(runtime, RunKind.STORAGE, imodel_id, "storage-connection")
    assert export.created
    assert synchronization.created
    assert (export.run.api, synchronization.run.api) == ("export", "synchronization")


async def test_a_second_run_of_the_same_api_gets_the_active_one_of_that_api(runtime: Runtime) -> None:
    imodel_id = await _imodel(runtime)
    export = await _create(runtime, RunKind.EXPORT, imodel_id, "export-connection")
    storage = await _create(runtime, RunKind.STORAGE, imodel_id, "storage-connection")

    again = await _create(runtime, RunKind.EXPORT, imodel_id, "another-export-connection")
    manifest = await _create(runtime, RunKind.MANIFEST, imodel_id, "manifest-connection")

    assert (again.created, again.run.id) == (False, export.run.id)
    # Manifest and storage runs are both the Synchronization API's: the storage run is the active one.
    assert (manifest.created, manifest.run.id) == (False, storage.run.id)
