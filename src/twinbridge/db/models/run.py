"""Runs, their jobs and their tasks: one model for Export and Synchronization runs.

The database is the source of truth; a queue only carries "execute run X". `active_imodel_id` holds the
iModel id while the run is active and NULL once it is Completed: its unique constraint is what lets only
one run per iModel be active, on SQLite and PostgreSQL alike (both allow many NULLs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from twinbridge.db.base import Base, CreatedAt


class Run(CreatedAt, Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    connection_id: Mapped[str] = mapped_column(String(64), index=True)
    imodel_id: Mapped[str] = mapped_column(ForeignKey("imodels.id", ondelete="CASCADE"), index=True)
    active_imodel_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    state: Mapped[str] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(32))
    # Who asked: the run acts on their behalf (User connections) or as the service client (Service).
    requested_by: Mapped[str] = mapped_column(String(255))
    authentication_type: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Synchronization runs report the phase they are in (Preprocessor, MasterFile, ReferenceFile).
    phase: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # The lease of the worker executing the run; an expired lease makes the run claimable again.
    worker_id: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    jobs: Mapped[list[Job]] = relationship(
        back_populates="run", order_by="Job.ordinal", cascade="all, delete-orphan", lazy="selectin"
    )


class Job(Base):
    __tablename__ = "run_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    connector_type: Mapped[str | None] = mapped_column(String(32))
    phase: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    run: Mapped[Run] = relationship(back_populates="jobs")
    tasks: Mapped[list[Task]] = relationship(
        back_populates="job", order_by="Task.ordinal", cascade="all, delete-orphan", lazy="selectin"
    )


class Task(Base):
    __tablename__ = "run_tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("run_jobs.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    retry_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Export: the stored output file. Synchronization: the source file the task processes.
    output_file_id: Mapped[str | None] = mapped_column(String(36))
    source_file_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    job: Mapped[Job] = relationship(back_populates="tasks")
