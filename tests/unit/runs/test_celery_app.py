"""The API side of the Celery queue, without a broker that answers."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from tests.integration.conftest import free_port
from twinbridge.config import Settings
from twinbridge.runs.celery_app import CeleryRunQueue


def test_enqueue_to_a_broker_that_is_away_logs_the_run_and_does_not_fail_the_request(tmp_path: Path) -> None:
    # A port nothing listens on: the connection is refused at once.
    settings = Settings(
        data_dir=tmp_path, queue="celery", broker_url=f"redis://127.0.0.1:{free_port()}/0", rate_limit="none"
    )
    queue = CeleryRunQueue(settings)
    try:
        with capture_logs() as logs:
            queue.enqueue("run-1")
    finally:
        queue.celery.close()
    (failure,) = [entry for entry in logs if entry["event"] == "run_enqueue_failed"]
    assert failure["run_id"] == "run-1"
    assert "stays Queued" in failure["consequence"]


def test_a_pool_process_over_the_memory_limit_after_a_task_is_replaced(tmp_path: Path) -> None:
    from twinbridge.runs.celery_app import create_celery_app

    def app_limit(worker_max_memory: int) -> int | None:
        settings = Settings(
            data_dir=tmp_path,
            queue="celery",
            broker_url="redis://127.0.0.1:9/0",
            worker_max_memory=worker_max_memory,
        )
        limit: int | None = create_celery_app(settings).conf.worker_max_memory_per_child
        return limit

    assert app_limit(3 * 1024**3) == 3 * 1024**2  # Celery counts KiB
    assert app_limit(0) is None
