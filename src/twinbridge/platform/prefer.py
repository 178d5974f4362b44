"""The Prefer header of list operations: `return=minimal` (the default) or `return=representation`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request

from twinbridge.platform.routing import documented_parameters

ReturnPreference = Literal["minimal", "representation"]


@documented_parameters(
    {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": "return=minimal (default) or return=representation",
        "schema": {"type": "string"},
    }
)
async def return_preference(request: Request) -> ReturnPreference:
    """Reads the header itself (no per-request validation by FastAPI: any text is a valid preference)."""
    for part in request.headers.get("prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "return" and value.strip().lower() == "representation":
            return "representation"
    return "minimal"


PreferDependency = Annotated[ReturnPreference, Depends(return_preference)]
