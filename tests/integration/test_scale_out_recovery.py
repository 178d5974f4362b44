"""Two `twinbridge worker`s share twenty concurrent exports; one of them is killed (kill -9) mid-run.

The surviving worker must finish everything, the run that was executing on the lost worker included, and
no run may execute twice: the lease in the database, not the broker, decides who executes a run.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import ifcopenshell
import pytest

from tests.integration.scale_out import Deployment, Worker, deployment_fixture, run_id_of
from tests.s3_server import s3_endpoint
from twinbridge.engines.ifc.validation import validate_ifc
from twinbridge.engines.imodel.generator import generate_imodel

__all__ = ["s3_endpoint"]  # the session fixture, imported for the deployment below

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

# Short leases: the lost worker's run is swept back into the queue within two leases.
LEASE_SECONDS = 4
RUNS = 20
# Small generated iModels (elements, seed), so that twenty exports and their validation stay quick on two
# cores, and different enough that a mixed-up output would show in its element count.
IMODELS = ((300, 1), (450, 2), (600, 3), (750, 4))
WARM_UP_TIMEOUT_SECONDS = 300
KILL_TIMEOUT_SECONDS = 180


# Two workers of one process each, each with a data dir of its own, as on two machines.
deployment = deployment_fixture(
    "scale-out-recovery", workers=2, processes_per_worker=1, lease_seconds=LEASE_SECONDS
)


def _import_imodels(deployment: Deployment, directory: Path) -> list[tuple[str, int]]:
    """RUNS iModels imported through the CLI, from a few generated files; (iModel id, elements) each."""
    files = []
    for elements, seed in IMODELS:
        path = directory / f"generated-{elements}.bim"
        generate_imodel(path, elements=elements, models=2, categories=3, seed=seed)
        files.append((path, elements))
    itwin_id = deployment.cli("itwins", "create", "Plant scale-out", "--owner", "alice")

    def import_one(number: int) -> tuple[str, int]:
        path, elements = files[number % len(files)]
        imodel_id = deployment.cli("imodels", "import", itwin_id, str(path), "--name", f"Plant {number}")
        return imodel_id, elements

    # A few at a time: each import is a CLI process of its own, started while the workers warm up.
    with ThreadPoolExecutor(max_workers=3) as imports:
        return list(imports.map(import_one, range(RUNS)))


def _wait_until_warm(deployment: Deployment) -> None:
    """Until every worker's process has warmed its engine, so that both workers share the runs."""
    deadline = time.monotonic() + WARM_UP_TIMEOUT_SECONDS
    while not all(worker.events("worker_process_ready") for worker in deployment.workers):
        for worker in deployment.workers:
            worker.assert_alive()
        assert time.monotonic() < deadline, "the workers did not warm up"
        time.sleep(0.5)


def _kill_mid_run(deployment: Deployment) -> tuple[Worker, str]:
    """kill -9 of the first worker seen executing a run after it finished another; it and that run's id.

    That the run is executing there is read from the worker's log (run_started without run_finished) and
    confirmed in the database (state Executing, the worker's lease) right before the kill.
    """
    deadline = time.monotonic() + KILL_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for worker in deployment.workers:
            worker.assert_alive()
            finished = {event["run_id"] for event in worker.events("run_finished")}
            executing = [event for event in worker.events("run_started") if event["run_id"] not in finished]
            if finished and executing:
                run_id, worker_id = executing[-1]["run_id"], executing[-1]["worker_id"]
                row = deployment.run_rows([run_id])[run_id]
                if (row["state"], row["worker_id"]) == ("Executing", worker_id):
                    worker.kill()
                    return worker, run_id
        time.sleep(0.05)
    logs = "\n".join(worker.log.read_text()[-3000:] for worker in deployment.workers)
    raise AssertionError(f"no worker was seen executing a second run:\n{logs}")


def test_twenty_exports_complete_once_each_when_a_worker_is_killed_mid_run(
    deployment: Deployment, tmp_path: Path
) -> None:
    imodels = _import_imodels(deployment, tmp_path)
    headers = deployment.user_headers()
    _wait_until_warm(deployment)
    locations = [deployment.start_export(headers, imodel_id) for imodel_id, _ in imodels]
    run_ids = [run_id_of(location) for location in locations]
    elements_of = {run_id: elements for run_id, (_, elements) in zip(run_ids, imodels, strict=True)}

    lost, killed_run_id = _kill_mid_run(deployment)
    (survivor,) = (worker for worker in deployment.workers if worker is not lost)
    # Every run the lost worker held when it died, read before its lease expires and another worker claims it.
    lost_worker_ids = {event["worker_id"] for event in lost.events("run_started")}
    interrupted = {
        run_id
        for run_id, row in deployment.run_rows(run_ids).items()
        if row["state"] != "Completed" and row["worker_id"] in lost_worker_ids
    }
    assert killed_run_id in interrupted

    runs = deployment.wait_for_all(locations, headers)

    started = Counter(
        event["run_id"] for worker in deployment.workers for event in worker.events("run_started")
    )
    finished = Counter(
        event["run_id"] for worker in deployment.workers for event in worker.events("run_finished")
    )
    recovered_by_survivor = {event["run_id"] for event in survivor.events("run_finished")}
    # The survivor's sweep put the lost runs back in the queue (as WaitingToRetry; when the survivor is idle
    # it claims them within milliseconds, so the state itself is checked in tests/unit/runs/test_claim.py).
    released = {run_id for event in survivor.events("expired_runs_requeued") for run_id in event["run_ids"]}
    assert interrupted <= released, (interrupted, released)
    rows = deployment.run_rows(run_ids)
    for location, run_id in zip(locations, run_ids, strict=True):
        run = runs[location]
        task = run["jobs"][0]["tasks"][0]
        retried = run_id in interrupted
        assert (run["state"], run["result"], task["result"]) == ("Completed", "Success", "Success"), run
        assert finished[run_id] == 1, f"run {run_id} finished {finished[run_id]} times"
        assert started[run_id] == rows[run_id]["attempts"] == (2 if retried else 1), (run_id, started, rows)
        assert task["retryAttempts"] == (1 if retried else 0), run
        if retried:
            assert run_id in recovered_by_survivor

    for run_id, location in zip(run_ids, locations, strict=True):
        task = runs[location]["jobs"][0]["tasks"][0]
        download = httpx.get(
            f"{deployment.server.url}/storage/files/{task['exportOutputFileId']}/download",
            headers=headers,
            follow_redirects=True,
        )
        assert download.status_code == 200, download.text
        path = tmp_path / f"{run_id}.ifc"
        path.write_bytes(download.content)
        model = ifcopenshell.open(str(path))
        assert validate_ifc(model) == [], run_id
        assert len(model.by_type("IfcBuildingElementProxy")) == elements_of[run_id]
