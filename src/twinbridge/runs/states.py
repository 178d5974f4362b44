"""The contract's enums for runs, jobs and tasks (api-contract.md §4; the seeds spell `Canceled`)."""

from __future__ import annotations

from enum import StrEnum


class ExecutionState(StrEnum):
    NOT_STARTED = "NotStarted"
    IDLE = "Idle"
    WAITING_TO_EXECUTE = "WaitingToExecute"
    WAITING_TO_RETRY = "WaitingToRetry"
    EXECUTING = "Executing"
    FINALIZING = "Finalizing"
    COMPLETED = "Completed"
    QUEUED = "Queued"


class ExecutionResult(StrEnum):
    UNDETERMINED = "Undetermined"
    SUCCESS = "Success"
    ERROR = "Error"
    PARTIAL_SUCCESS = "PartialSuccess"
    SKIPPED = "Skipped"
    CANCELED = "Canceled"
    TIMED_OUT = "TimedOut"


class JobPhase(StrEnum):
    PREPROCESSOR = "Preprocessor"
    MASTER_FILE = "MasterFile"
    REFERENCE_FILE = "ReferenceFile"


class RunKind(StrEnum):
    EXPORT = "export"
    MANIFEST = "manifest"
    STORAGE = "storage"

    @property
    def api(self) -> str:
        """The API a run belongs to: manifest and storage runs are both the Synchronization API's."""
        return "export" if self is RunKind.EXPORT else "synchronization"


# A run a worker may pick up; a run in any state but Completed is "active" for its iModel.
CLAIMABLE_STATES = (ExecutionState.QUEUED, ExecutionState.WAITING_TO_RETRY)
RUNNING_STATES = (ExecutionState.EXECUTING, ExecutionState.FINALIZING)
