"""The Prefer header of list operations: `return=minimal` (the default) or `return=representation`.

Read by the endpoint itself (`return_preference(request)`), documented by `PREFER_PARAMETER`: any text is a
valid preference, so there is nothing for FastAPI to validate on every request.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request

ReturnPreference = Literal["minimal", "representation"]

PREFER_PARAMETER: dict[str, Any] = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": "return=minimal (default) or return=representation",
    "schema": {"type": "string"},
}


def return_preference(request: Request) -> ReturnPreference:
    for part in request.headers.get("prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "return" and value.strip().lower() == "representation":
            return "representation"
    return "minimal"
