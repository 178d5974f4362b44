"""Reading runs whole on SQLite and PostgreSQL: a connection, its runs, their jobs and tasks at once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.conftest import SAMPLE_IMODELS
from twinbridge.db.models import ExportConnection, Job, Run, Task
from twinbridge.export.repository import RUN_OWNER, ExportConnectionRepository
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.time import utc_now
from twinbridge.runs.repository import RunRepository
from twinbridge.runs.states import ExecutionResult, ExecutionState, RunKind
from twinbridge.runtime import Runtime

NOT_STARTED = ExecutionState.NOT_STARTED.value
UNDETERMINED = ExecutionResult.UNDETERMINED.value


def _run(connection_id: str, imodel_id: str, age_minutes: int, tasks_per_job: list[int]) -> Run:
    run_id = str(uuid.uuid4())
    jobs = []
    for ordinal, task_count in enumerate(tasks_per_job):
        job_id = str(uuid.uuid4())
        tasks = [
            Task(id=str(uuid.uuid4()), job_id=job_id, ordinal=index, state=NOT_STARTED, result=UNDETERMINED)
            for index in range(task_count)
        ]
        jobs.append(
            Job(
                id=job_id, run_id=run_id, ordinal=ordinal, state=NOT_STARTED, result=UNDETERMINED, tasks=tasks
            )
        )
    return Run(
        id=run_id,
        kind=RunKind.EXPORT.value,
        connection_id=connection_id,
        imodel_id=imodel_id,
        state=ExecutionState.COMPLETED.value,
        result=ExecutionResult.SUCCESS.value,
        requested_by="alice",
        authentication_type="User",
        created_at=utc_now() - timedelta(minutes=age_minutes),
        jobs=jobs,
    )


@pytest.fixture
async def world(runtime: Runtime) -> dict[str, object]:
    """Connection A with three runs (two jobs of two tasks; a job without tasks; no job), B with one."""
    async with runtime.database.transaction() as transaction:
        itwin = await ITwinService(transaction).create("Plant", "alice")
        imodel = (
            await IModelService(transaction, runtime.blobs).import_file(
                itwin.id, SAMPLE_IMODELS / "Building Blocks.bim", "Blocks", None, caller=None
            )
        ).imodel
        connections = ExportConnectionRepository(transaction)
        ids = []
        for name in ("A", "B", "Empty"):
            connection = ExportConnection(
                id=str(uuid.uuid4()),
                imodel_id=imodel.id,
                itwin_id=itwin.id,
                display_name=name,
                authentication_type="User",
                created_by="alice",
            )
            ids.append((await connections.add(connection)).id)
        a, b, _ = ids
        runs = [
            _run(a, imodel.id, 30, [2, 2]),
            _run(a, imodel.id, 20, [0]),
            _run(a, imodel.id, 10, []),
            _run(b, imodel.id, 5, [1]),
        ]
        for run in runs:
            await RunRepository(transaction).add(run)
    return {"connections": ids, "runs": runs}


def _shape(run: Run) -> list[list[str]]:
    return [[task.id for task in job.tasks] for job in run.jobs]


async def test_a_page_of_runs_comes_newest_first_with_every_job_and_task(
    runtime: Runtime, world: dict
) -> None:
    a = world["connections"][0]
    oldest, middle, newest, _ = world["runs"]
    async with runtime.database.transaction(write=False) as transaction:
        repository = RunRepository(transaction)
        connection, role, runs = await repository.read_under(
            RUN_OWNER, {"connection_id": a, "subject": "alice"}, None, 0, 10
        )
        _, _, second_page = await repository.read_under(
            RUN_OWNER, {"connection_id": a, "subject": "alice"}, None, 1, 1
        )
    assert (connection.id, connection.display_name, role) == (a, "A", "Owner")
    assert [run.id for run in runs] == [newest.id, middle.id, oldest.id]
    assert [_shape(run) for run in runs] == [_shape(newest), _shape(middle), _shape(oldest)]
    assert [len(tasks) for tasks in _shape(runs[2])] == [2, 2]
    assert [run.id for run in second_page] == [middle.id]


async def test_one_run_is_found_only_under_its_own_connection(runtime: Runtime, world: dict) -> None:
    a, b, _ = world["connections"]
    oldest = world["runs"][0]
    async with runtime.database.transaction(write=False) as transaction:
        repository = RunRepository(transaction)
        own = await repository.read_under(
            RUN_OWNER, {"connection_id": a, "subject": "alice"}, oldest.id, 0, 0
        )
        other = await repository.read_under(
            RUN_OWNER, {"connection_id": b, "subject": "alice"}, oldest.id, 0, 0
        )
    assert own is not None
    assert [_shape(run) for run in own[2]] == [_shape(oldest)]
    assert other is not None
    assert (other[0].id, other[2]) == (b, [])


async def test_a_connection_without_runs_or_without_existence_and_a_stranger(
    runtime: Runtime, world: dict
) -> None:
    empty = world["connections"][2]
    async with runtime.database.transaction(write=False) as transaction:
        repository = RunRepository(transaction)
        without_runs = await repository.read_under(
            RUN_OWNER, {"connection_id": empty, "subject": "alice"}, None, 0, 10
        )
        unknown = await repository.read_under(
            RUN_OWNER, {"connection_id": str(uuid.uuid4()), "subject": "alice"}, None, 0, 10
        )
        stranger = await repository.read_under(
            RUN_OWNER, {"connection_id": empty, "subject": "mallory"}, None, 0, 10
        )
    assert without_runs is not None
    assert (without_runs[0].id, without_runs[2]) == (empty, [])
    assert unknown is None
    assert stranger is not None
    assert stranger[1] is None
