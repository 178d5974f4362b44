"""Runs, their jobs and their tasks: one model for Export and Synchronization runs.

The database is the source of truth; a queue only carries "execute run X". `active_imodel_id` holds the
iModel id while the run is active and NULL once it is Completed: its unique constraint is what lets only
one run per iModel be active, on SQLite and PostgreSQL alike (both allow many NULLs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twinbridge.db.tables import NOT_A_COLUMN
from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class Task:
    id: str
    job_id: str
    ordinal: int
    state: str
    result: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    retry_attempts: int = 0
    # Export: the stored output file. Synchronization: the source file the task processes.
    output_file_id: str | None = None
    source_file_id: str | None = None
    error: dict[str, Any] | None = None
    details: dict[str, Any] | None = None


@dataclass(slots=True)
class Job:
    id: str
    run_id: str
    ordinal: int
    state: str
    result: str
    connector_type: str | None = None
    phase: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    tasks: list[Task] = field(default_factory=list, metadata=NOT_A_COLUMN)


@dataclass(slots=True)
class Run:
    id: str
    kind: str
    connection_id: str
    imodel_id: str
    state: str
    result: str
    # Who asked: the run acts on their behalf (User connections) or as the service client (Service).
    requested_by: str
    authentication_type: str
    active_imodel_id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    # Synchronization runs report the phase they are in (Preprocessor, MasterFile, ReferenceFile).
    phase: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    # The lease of the worker executing the run; an expired lease makes the run claimable again.
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    attempts: int = 0
    created_at: datetime = field(default_factory=utc_now)
    # "export" or "synchronization": an iModel has at most one active run per API (`RunKind.api`).
    api: str = "export"
    # When a caller asked to cancel the run while it executed (twinbridge's extension, POST …/cancel): the
    # worker executing it stops it.
    cancel_requested_at: datetime | None = None
    jobs: list[Job] = field(default_factory=list, metadata=NOT_A_COLUMN)
