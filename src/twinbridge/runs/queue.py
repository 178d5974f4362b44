"""The queue that carries "execute run X". The database stays the source of truth: workers claim runs there.

One implementation per mode, chosen by TWINBRIDGE_QUEUE when the app is put together (twinbridge.app):
`inprocess` wakes the embedded worker processes of `serve`, which also poll, so a run created by another
process (or before a restart) is still found; `celery` sends a Celery task to the broker
(runs/celery_app.py) for the workers of `twinbridge worker`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol


class WakeSignal(Protocol):
    def set(self) -> None: ...


class RunQueue(ABC):
    @abstractmethod
    def enqueue(self, run_id: str) -> None:
        """Called after the transaction that created the run has committed."""


class InProcessRunQueue(RunQueue):
    """Wakes the embedded workers; without any (a worker process, which never enqueues), does nothing."""

    def __init__(self, wake: WakeSignal | None = None) -> None:
        self.wake = wake

    def enqueue(self, run_id: str) -> None:
        if self.wake is not None:
            self.wake.set()
