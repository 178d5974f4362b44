"""The scale-out mode end to end: `twinbridge serve` with TWINBRIDGE_QUEUE=celery and one `twinbridge worker`,
on PostgreSQL, Redis and S3-compatible storage (moto), talking HTTP like a client.

One deployment serves the whole module: starting a worker warms its engines, which is the slow part.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import ifcopenshell
import pytest

from tests.conftest import SAMPLE_IMODELS
from tests.integration.scale_out import Deployment, Worker, deployment_fixture, run_id_of
from tests.s3_server import s3_endpoint
from twinbridge.runs.celery_app import EXECUTE_RUN_TASK, RUN_QUEUE_NAME, create_celery_app

__all__ = ["s3_endpoint"]  # the session fixture, imported for the deployment below

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

# Short leases: a duplicate message that finds its run executing looks again a lease later.
LEASE_SECONDS = 4
WORKER_PROCESSES = 2


deployment = deployment_fixture(
    "scale-out", workers=1, processes_per_worker=WORKER_PROCESSES, lease_seconds=LEASE_SECONDS
)


def _start_export(deployment: Deployment, headers: dict[str, str], name: str, **body: Any) -> str:
    """Imports the sample iModel under a new name and starts an export of it; the run's URL."""
    itwin_id = deployment.cli("itwins", "create", f"Plant {name}", "--owner", "alice")
    imodel_id = deployment.cli(
        "imodels", "import", itwin_id, str(SAMPLE_IMODELS / "Building Blocks.bim"), "--name", name
    )
    return deployment.start_export(headers, imodel_id, **body)


def test_exports_run_on_the_celery_worker_and_their_outputs_download(
    deployment: Deployment, tmp_path: Path
) -> None:
    headers = deployment.user_headers()
    versions = {"IFC4.3": "IFC4X3_ADD2", "IFC2x3": "IFC2X3"}
    locations = {
        version: _start_export(deployment, headers, f"Blocks {version}", ifcVersion=version)
        for version in versions
    }
    for version, location in locations.items():
        run = deployment.wait_for_completion(location, headers)
        task = run["jobs"][0]["tasks"][0]
        assert (run["result"], task["result"]) == ("Success", "Success"), run
        download = httpx.get(
            f"{deployment.server.url}/storage/files/{task['exportOutputFileId']}/download",
            headers=headers,
            follow_redirects=True,
        )
        assert download.status_code == 200
        path = tmp_path / f"{version}.ifc"
        path.write_bytes(download.content)
        model = ifcopenshell.open(str(path))
        assert model.schema_identifier == versions[version]
        assert len(model.by_type("IfcBuildingElementProxy")) == 173


def test_a_run_delivered_several_times_executes_once(deployment: Deployment) -> None:
    headers = deployment.user_headers()
    location = _start_export(deployment, headers, "Blocks duplicated")
    run_id = run_id_of(location)
    celery = create_celery_app(deployment.settings)
    # The API sent one message; two more arrive while the run waits or executes.
    duplicates = [celery.send_task(EXECUTE_RUN_TASK, args=[run_id], queue=RUN_QUEUE_NAME) for _ in range(2)]
    run = deployment.wait_for_completion(location, headers)
    assert run["result"] == "Success", run
    # And one more once the run has Completed.
    late = celery.send_task(EXECUTE_RUN_TASK, args=[run_id], queue=RUN_QUEUE_NAME)
    _wait_for_log(deployment, [message.id for message in [*duplicates, late]])
    after = httpx.get(location, headers=headers).json()["run"]
    assert deployment.attempts(run_id) == 1
    assert after["jobs"][0]["tasks"][0]["retryAttempts"] == 0
    assert (after["startDateTime"], after["endDateTime"]) == (run["startDateTime"], run["endDateTime"])
    celery.close()


def _wait_for_log(deployment: Deployment, message_ids: list[str], timeout: float = 60) -> None:
    """Until the worker has logged every message as done (a message with nothing to do returns False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = deployment.worker.log.read_text()
        if all(f"[{message_id}] succeeded" in log for message_id in message_ids):
            return
        time.sleep(0.5)
    raise AssertionError(f"the worker did not handle messages {message_ids}:\n{log[-5000:]}")


def test_run_of_a_killed_worker_is_executed_again_by_the_next_one(deployment: Deployment) -> None:
    headers = deployment.user_headers()
    location = _start_export(deployment, headers, "Blocks interrupted")
    deadline = time.monotonic() + 60
    while httpx.get(location, headers=headers).json()["run"]["state"] != "Executing":
        assert time.monotonic() < deadline, "the run never started executing"
        time.sleep(0.02)
    # kill -9 of the whole worker mid-run: its message stays unacknowledged in Redis (redelivered only after
    # the visibility timeout, an hour), so the next worker's sweep of expired leases must bring the run back.
    deployment.worker.kill()
    deployment.workers[0] = Worker.start(deployment.worker.environment, deployment.worker.log)
    run = deployment.wait_for_completion(location, headers)
    assert run["result"] == "Success", run
    assert run["jobs"][0]["tasks"][0]["retryAttempts"] == 1
    assert deployment.attempts(run_id_of(location)) == 2


def test_worker_with_the_database_queue_claims_runs_without_messages(deployment: Deployment) -> None:
    # Last in the module: it stops the Celery worker, so that only the database claim loop can run exports.
    deployment.worker.stop()
    environment = {
        **deployment.worker.environment,
        "TWINBRIDGE_QUEUE": "inprocess",
        "TWINBRIDGE_WORKERS": "1",
    }
    # In the deployment's place, so that it is stopped with it and the wait watches it.
    deployment.workers[0] = Worker.start(environment, deployment.worker.log.with_name("worker-inprocess.log"))
    headers = deployment.user_headers()
    location = _start_export(deployment, headers, "Blocks claimed")
    run = deployment.wait_for_completion(location, headers)
    assert run["result"] == "Success", run
    assert deployment.worker.events("run_started")
