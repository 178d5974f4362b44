"""Task errors in the contract's TaskError shape (api-contract.md §4.5), in words a user can act on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def task_error(
    *,
    code: str,
    message: str,
    details: str,
    description_key: str,
    description: str,
    can_user_fix: bool,
    system: str = "twinbridge",
    phase: str = "export_file",
    exit_code: int = 1,
) -> dict[str, Any]:
    return {
        "errorCode": code,
        "message": message,
        "details": details,
        "bridgeExitCode": exit_code,
        "system": system,
        "phase": phase,
        "category": "user" if can_user_fix else "other",
        "descriptionKey": description_key,
        "description": description,
        "kbArticleLink": "",
        "canUserFix": can_user_fix,
    }


USER_NOT_AUTHENTICATED = {"errorKey": "UserNotAuthenticated", "description": "User is not authenticated."}


def run_timed_out(run_timeout: int, work: str, consequence: str = "") -> dict[str, Any]:
    """A run that outlived TWINBRIDGE_RUN_TIMEOUT; `work` names it ("export"), `consequence` says what it
    left as it was."""
    return task_error(
        code="RunTimedOut",
        message=f"The {work} did not finish in time.",
        details=f"The run exceeded this server's time limit of {run_timeout} s (TWINBRIDGE_RUN_TIMEOUT)"
        f"{consequence}.",
        description_key="RunTimedOut",
        description="The run took too long.",
        can_user_fix=False,
    )


def not_enough_disk_space(failure: OSError, phase: str) -> dict[str, Any]:
    """A full disk, or one below TWINBRIDGE_MIN_FREE_DISK: the operator's to fix; told without paths."""
    reason = failure.strerror or "no space left on the device"
    return task_error(
        code="NotEnoughDiskSpace",
        message="The server does not have enough free disk space for the run.",
        details=f"The run stopped before it could finish: {reason} (TWINBRIDGE_MIN_FREE_DISK). Nothing of it "
        "was kept. Ask the server's operator to free disk space, then start a new run.",
        description_key="NotEnoughDiskSpace",
        description="The server is out of disk space.",
        can_user_fix=False,
        phase=phase,
    )


def unexpected_failure(run_id: str) -> dict[str, Any]:
    """A run that failed on an error of the server's own: ended at once (a retry would fail alike), the
    traceback in the server's log, never in the task error that every member of the iTwin reads."""
    return task_error(
        code="UnexpectedError",
        message="The run failed on an unexpected error.",
        details="The server could not complete the run because of an error of its own; its log has the "
        f"details (run {run_id}). Start a new run; if it fails again, tell the server's operator.",
        description_key="UnexpectedError",
        description="The run failed on an unexpected error.",
        can_user_fix=False,
        phase="orchestration",
    )


def canceled_on_request() -> dict[str, Any]:
    """The task error of a run canceled by POST …/cancel (a twinbridge extension: upstream cannot cancel)."""
    return task_error(
        code="RunCanceled",
        message="The run was canceled.",
        details="The run was canceled on request (POST …/runs/{runId}/cancel); nothing it had started was "
        "kept: no output file, no new iModel version.",
        description_key="RunCanceled",
        description="The run was canceled.",
        can_user_fix=False,
        phase="orchestration",
    )


def without_server_paths(text: str, data_dir: Path, names: dict[Path, str] | None = None) -> str:
    """`text` with the server's file paths replaced: each path of `names` by the name the user knows, any
    other path in the data dir by "a file of the server" (task errors are read by every Reader)."""
    for path, name in sorted((names or {}).items(), key=lambda item: -len(str(item[0]))):
        text = text.replace(str(path), name)
    return re.sub(re.escape(str(data_dir)) + r"[^\s'\",;:)]*", "a file of the server", text)
