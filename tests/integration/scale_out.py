"""What the scale-out tests share: a deployment of `twinbridge serve` with TWINBRIDGE_QUEUE=celery and
`twinbridge worker` processes on PostgreSQL, Redis and S3-compatible storage (moto), driven like a client.

Every worker has a data dir of its own, as on another machine: everything it shares with the API goes through
PostgreSQL, Redis and S3.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import Engine, create_engine, text

from tests.conftest import IN_CI, _truncate_postgres
from tests.integration.conftest import Server, start_server, stop_server, twinbridge_command
from tests.s3_server import create_bucket
from twinbridge.config import Settings

REDIS_URL = os.environ.get("TWINBRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
RUN_TIMEOUT_SECONDS = 240


def unused_redis_database() -> int:
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


@dataclass
class Worker:
    """A `twinbridge worker` in a session of its own, so that killing its process group kills the worker,
    its pool and their engines."""

    process: subprocess.Popen[str]
    log: Path
    environment: dict[str, str]

    @classmethod
    def start(cls, environment: dict[str, str], log: Path) -> Worker:
        with log.open("a") as log_file:
            process = subprocess.Popen(
                [*twinbridge_command(), "worker"],
                env=environment,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        return cls(process, log, environment)

    def kill(self) -> None:
        """kill -9 of the whole worker, as when its machine is lost."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"twinbridge worker exited:\n{self.log.read_text()[-5000:]}")

    def events(self, name: str) -> list[dict[str, Any]]:
        """The structured log events of this name that the worker wrote (run_started, run_finished, ...)."""
        found = []
        for line in self.log.read_text().splitlines():
            if not line.startswith("{") or f'"{name}"' not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:  # a line cut short by kill -9
                continue
            if event.get("event") == name:
                found.append(event)
        return found


@dataclass
class Deployment:
    server: Server
    workers: list[Worker]
    environment: dict[str, str]
    database_url: str
    broker_url: str
    settings: Settings

    @property
    def worker(self) -> Worker:
        return self.workers[0]

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

    def user_headers(self, user: str = "alice") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.cli('token', '--user', user)}"}

    def start_export(self, headers: dict[str, str], imodel_id: str, **body: Any) -> str:
        """Creates a connection of the iModel and starts an export run of it; the run's URL."""
        url = self.server.url
        connection = httpx.post(f"{url}/export/connections", json={"iModelId": imodel_id}, headers=headers)
        assert connection.status_code == 201, connection.text
        run = httpx.post(
            f"{url}/export/connections/{connection.json()['connection']['id']}/runs",
            json={"exportType": "IFC", **body},
            headers=headers,
        )
        assert run.status_code == 202, run.text
        return run.headers["location"]

    def wait_for_completion(
        self, location: str, headers: dict[str, str], timeout: float = RUN_TIMEOUT_SECONDS
    ) -> dict[str, Any]:
        return self.wait_for_all([location], headers, timeout)[location]

    def wait_for_all(
        self, locations: list[str], headers: dict[str, str], timeout: float = RUN_TIMEOUT_SECONDS
    ) -> dict[str, dict[str, Any]]:
        """Every run Completed, by location; the workers still alive must stay so meanwhile."""
        living = [worker for worker in self.workers if worker.process.poll() is None]
        completed: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for worker in living:
                worker.assert_alive()
            for location in locations:
                if location not in completed:
                    run: dict[str, Any] = httpx.get(location, headers=headers).json()["run"]
                    if run["state"] == "Completed":
                        completed[location] = run
            if len(completed) == len(locations):
                return completed
            time.sleep(0.5)
        logs = "\n".join(f"{worker.log}:\n{worker.log.read_text()[-3000:]}" for worker in self.workers)
        raise AssertionError(
            f"{len(locations) - len(completed)} run(s) did not complete within {timeout} s; logs:\n{logs}"
        )

    @cached_property
    def database(self) -> Engine:
        return create_engine(self.database_url, pool_size=1)

    def run_rows(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The runs' database rows (state, worker_id, attempts), by id."""
        with self.database.connect() as connection:
            rows = connection.execute(
                text("SELECT id, state, worker_id, attempts FROM runs WHERE id = ANY(:ids)"),
                {"ids": run_ids},
            ).mappings()
            return {row["id"]: dict(row) for row in rows}

    def attempts(self, run_id: str) -> int:
        return int(self.run_rows([run_id])[run_id]["attempts"])

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        stop_server(self.server)
        if "database" in self.__dict__:
            self.database.dispose()
        with redis.Redis.from_url(self.broker_url) as client:
            client.flushdb()


def run_id_of(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[1]


@contextlib.contextmanager
def deployed(
    postgres_url: str,
    s3_endpoint: str,
    directory: Path,
    *,
    workers: int,
    processes_per_worker: int,
    lease_seconds: int,
) -> Iterator[Deployment]:
    """A clean database, a Redis database of its own, a new bucket, one API server and `workers` workers;
    all stopped at the end."""
    _truncate_postgres(postgres_url)
    broker_url = f"{REDIS_URL}/{unused_redis_database()}"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TWINBRIDGE_")}
    environment.update(
        {
            "TWINBRIDGE_DATA_DIR": str(directory / "data"),
            "TWINBRIDGE_DATABASE_URL": postgres_url,
            "TWINBRIDGE_QUEUE": "celery",
            "TWINBRIDGE_BROKER_URL": broker_url,
            "TWINBRIDGE_STORAGE_URL": f"s3://{create_bucket(s3_endpoint)}?endpoint_url={s3_endpoint}",
            "TWINBRIDGE_WORKERS": str(processes_per_worker),
            "TWINBRIDGE_RUN_LEASE_SECONDS": str(lease_seconds),
            "TWINBRIDGE_RATE_LIMIT": "none",
        }
    )
    server = start_server(environment, directory / "serve.log")
    started = []
    try:
        for number in range(1, workers + 1):
            worker_environment = {**environment, "TWINBRIDGE_DATA_DIR": str(directory / f"worker-{number}")}
            started.append(Worker.start(worker_environment, directory / f"worker-{number}.log"))
    except BaseException:
        for worker in started:
            worker.stop()
        stop_server(server)
        raise
    settings = Settings(
        data_dir=directory / "client",
        database_url=postgres_url,
        queue="celery",
        broker_url=broker_url,
        run_lease_seconds=lease_seconds,
    )
    deployment = Deployment(server, started, environment, postgres_url, broker_url, settings)
    try:
        yield deployment
    finally:
        deployment.stop()


def deployment_fixture(name: str, *, workers: int, processes_per_worker: int, lease_seconds: int) -> Any:
    """A module-scoped `deployment` fixture: one deployment serves a whole module, as starting a worker warms
    its engines, which is the slow part. The module must import the `s3_endpoint` fixture."""

    @pytest.fixture(scope="module")
    def deployment(
        postgres_url: str, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Deployment]:
        with deployed(
            postgres_url,
            s3_endpoint,
            tmp_path_factory.mktemp(name),
            workers=workers,
            processes_per_worker=processes_per_worker,
            lease_seconds=lease_seconds,
        ) as running:
            yield running

    return deployment
