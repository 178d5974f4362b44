"""The scale-out mode end to end: `twinbridge serve` with TWINBRIDGE_QUEUE=celery and one `twinbridge worker`,
on PostgreSQL, Redis and S3-compatible storage (moto), talking HTTP like a client.

One deployment serves the whole module: starting a worker warms its engines, which is the slow part.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ifcopenshell
import pytest
import redis
from sqlalchemy import create_engine, text

from tests.conftest import IN_CI, SAMPLE_IMODELS
from tests.integration.conftest import Server, start_server, stop_server, twinbridge_command
from tests.s3_server import create_bucket, s3_endpoint
from twinbridge.config import Settings
from twinbridge.runs.celery_app import EXECUTE_RUN_TASK, RUN_QUEUE_NAME, create_celery_app

__all__ = ["s3_endpoint"]  # the session fixture, imported for the deployment below

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

REDIS_URL = os.environ.get("TWINBRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
# Short leases: a duplicate message that finds its run executing looks again a lease later.
LEASE_SECONDS = 4
WORKER_PROCESSES = 2
RUN_TIMEOUT_SECONDS = 240


@dataclass
class Deployment:
    server: Server
    worker: subprocess.Popen[str]
    worker_log: Path
    environment: dict[str, str]
    worker_environment: dict[str, str]
    database_url: str
    settings: Settings

    def cli(self, *arguments: str) -> str:
        result = subprocess.run(
            [*twinbridge_command(), *arguments],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"twinbridge {' '.join(arguments)} failed:\n{result.stderr}"
        return result.stdout.strip()


def _unused_redis_database() -> int:
    """A Redis database number nobody uses (empty), so that the test's queue is its own."""
    try:
        # Database 15 is the rate-limit tests'; the others are tried from the top, where few users are.
        for number in range(14, 0, -1):
            client = redis.Redis.from_url(f"{REDIS_URL}/{number}", socket_connect_timeout=3)
            with client:
                if client.dbsize() == 0:
                    return number
    except redis.RedisError as failure:
        reason = f"Redis at {REDIS_URL} is not reachable ({type(failure).__name__})"
        if IN_CI:
            pytest.fail(f"{reason}; CI=true requires Redis")
        pytest.skip(reason)
    pytest.skip(f"every Redis database of {REDIS_URL} holds data")


def _clean_postgres(url: str) -> None:
    from tests.conftest import _truncate_postgres

    _truncate_postgres(url)


@pytest.fixture(scope="module")
def deployment(
    postgres_url: str, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    _clean_postgres(postgres_url)
    broker_url = f"{REDIS_URL}/{_unused_redis_database()}"
    directory = tmp_path_factory.mktemp("scale-out")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TWINBRIDGE_")}
    environment.update(
        {
            "TWINBRIDGE_DATA_DIR": str(directory / "data"),
            "TWINBRIDGE_DATABASE_URL": postgres_url,
            "TWINBRIDGE_QUEUE": "celery",
            "TWINBRIDGE_BROKER_URL": broker_url,
            "TWINBRIDGE_STORAGE_URL": f"s3://{create_bucket(s3_endpoint)}?endpoint_url={s3_endpoint}",
            "TWINBRIDGE_WORKERS": str(WORKER_PROCESSES),
            "TWINBRIDGE_RUN_LEASE_SECONDS": str(LEASE_SECONDS),
            "TWINBRIDGE_RATE_LIMIT": "none",
        }
    )
    server = start_server(environment, directory / "serve.log")
    # The worker has a data dir of its own, as on another machine: everything it shares with the API goes
    # through PostgreSQL, Redis and S3.
    worker_environment = {**environment, "TWINBRIDGE_DATA_DIR": str(directory / "worker-data")}
    worker_log = directory / "worker.log"
    worker = _start_worker(worker_environment, worker_log)
    settings = Settings(
        data_dir=directory / "client",
        database_url=postgres_url,
        queue="celery",
        broker_url=broker_url,
        run_lease_seconds=LEASE_SECONDS,
    )
    try:
        yield Deployment(server, worker, worker_log, environment, worker_environment, postgres_url, settings)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
        stop_server(server)
        with redis.Redis.from_url(broker_url) as client:
            client.flushdb()


def _headers(deployment: Deployment) -> dict[str, str]:
    return {"Authorization": f"Bearer {deployment.cli('token', '--user', 'alice')}"}


def _start_export(deployment: Deployment, headers: dict[str, str], name: str, **body: Any) -> str:
    """Imports the sample iModel under a new name and starts an export of it; the run's URL."""
    url = deployment.server.url
    itwin_id = deployment.cli("itwins", "create", f"Plant {name}", "--owner", "alice")
    imodel_id = deployment.cli(
        "imodels", "import", itwin_id, str(SAMPLE_IMODELS / "Building Blocks.bim"), "--name", name
    )
    connection = httpx.post(f"{url}/export/connections", json={"iModelId": imodel_id}, headers=headers)
    assert connection.status_code == 201, connection.text
    run = httpx.post(
        f"{url}/export/connections/{connection.json()['connection']['id']}/runs",
        json={"exportType": "IFC", **body},
        headers=headers,
    )
    assert run.status_code == 202, run.text
    return run.headers["location"]


def _wait_for_completion(deployment: Deployment, location: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if deployment.worker.poll() is not None:
            raise AssertionError(f"twinbridge worker exited:\n{deployment.worker_log.read_text()}")
        run: dict[str, Any] = httpx.get(location, headers=headers).json()["run"]
        if run["state"] == "Completed":
            return run
        time.sleep(0.5)
    raise AssertionError(
        f"run {location} did not complete within {RUN_TIMEOUT_SECONDS} s; worker log:\n"
        f"{deployment.worker_log.read_text()[-5000:]}"
    )


def _attempts(deployment: Deployment, run_id: str) -> int:
    engine = create_engine(deployment.database_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT attempts FROM runs WHERE id = :id"), {"id": run_id}
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_exports_run_on_the_celery_worker_and_their_outputs_download(
    deployment: Deployment, tmp_path: Path
) -> None:
    headers = _headers(deployment)
    versions = {"IFC4.3": "IFC4X3_ADD2", "IFC2x3": "IFC2X3"}
    locations = {
        version: _start_export(deployment, headers, f"Blocks {version}", ifcVersion=version)
        for version in versions
    }
    for version, location in locations.items():
        run = _wait_for_completion(deployment, location, headers)
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
    headers = _headers(deployment)
    location = _start_export(deployment, headers, "Blocks duplicated")
    run_id = location.rstrip("/").rsplit("/", 1)[1]
    celery = create_celery_app(deployment.settings)
    # The API sent one message; two more arrive while the run waits or executes.
    duplicates = [celery.send_task(EXECUTE_RUN_TASK, args=[run_id], queue=RUN_QUEUE_NAME) for _ in range(2)]
    run = _wait_for_completion(deployment, location, headers)
    assert run["result"] == "Success", run
    # And one more once the run has Completed.
    late = celery.send_task(EXECUTE_RUN_TASK, args=[run_id], queue=RUN_QUEUE_NAME)
    _wait_for_log(deployment, [message.id for message in [*duplicates, late]])
    after = httpx.get(location, headers=headers).json()["run"]
    assert _attempts(deployment, run_id) == 1
    assert after["jobs"][0]["tasks"][0]["retryAttempts"] == 0
    assert (after["startDateTime"], after["endDateTime"]) == (run["startDateTime"], run["endDateTime"])
    celery.close()


def _wait_for_log(deployment: Deployment, message_ids: list[str], timeout: float = 60) -> None:
    """Until the worker has logged every message as done (a message with nothing to do returns False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = deployment.worker_log.read_text()
        if all(f"[{message_id}] succeeded" in log for message_id in message_ids):
            return
        time.sleep(0.5)
    raise AssertionError(f"the worker did not handle messages {message_ids}:\n{log[-5000:]}")


def _start_worker(environment: dict[str, str], log: Path) -> subprocess.Popen[str]:
    with log.open("a") as log_file:
        # A session of its own: killing its process group kills the worker, its pool and their engines.
        return subprocess.Popen(
            [*twinbridge_command(), "worker"],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def test_run_of_a_killed_worker_is_executed_again_by_the_next_one(deployment: Deployment) -> None:
    headers = _headers(deployment)
    location = _start_export(deployment, headers, "Blocks interrupted")
    deadline = time.monotonic() + 60
    while httpx.get(location, headers=headers).json()["run"]["state"] != "Executing":
        assert time.monotonic() < deadline, "the run never started executing"
        time.sleep(0.02)
    # kill -9 of the whole worker mid-run: its message stays unacknowledged in Redis (redelivered only after
    # the visibility timeout, an hour), so the next worker's sweep of expired leases must bring the run back.
    os.killpg(deployment.worker.pid, signal.SIGKILL)
    deployment.worker.wait(timeout=10)
    deployment.worker = _start_worker(deployment.worker_environment, deployment.worker_log)
    run = _wait_for_completion(deployment, location, headers)
    assert run["result"] == "Success", run
    assert run["jobs"][0]["tasks"][0]["retryAttempts"] == 1
    assert _attempts(deployment, location.rstrip("/").rsplit("/", 1)[1]) == 2


def test_worker_with_the_database_queue_claims_runs_without_messages(deployment: Deployment) -> None:
    # Last in the module: it stops the Celery worker, so that only the database claim loop can run exports.
    deployment.worker.terminate()
    deployment.worker.wait(timeout=30)
    log = deployment.worker_log.with_name("worker-inprocess.log")
    environment = {
        **deployment.worker_environment,
        "TWINBRIDGE_QUEUE": "inprocess",
        "TWINBRIDGE_WORKERS": "1",
    }
    worker = _start_worker(environment, log)
    try:
        headers = _headers(deployment)
        location = _start_export(deployment, headers, "Blocks claimed")
        deployment.worker, deployment.worker_log = worker, log  # for the failure messages of the wait
        run = _wait_for_completion(deployment, location, headers)
        assert run["result"] == "Success", run
        assert '"event": "run_started"' in log.read_text()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
