"""Task errors in the contract's TaskError shape (api-contract.md §4.5), in words a user can act on."""

from __future__ import annotations

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
