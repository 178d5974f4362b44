"""The Prefer header of list operations: `return=minimal` (the default) or `return=representation`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Header

ReturnPreference = Literal["minimal", "representation"]


async def return_preference(
    prefer: Annotated[
        str | None, Header(description="return=minimal (default) or return=representation")
    ] = None,
) -> ReturnPreference:
    for part in (prefer or "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "return" and value.strip().lower() == "representation":
            return "representation"
    return "minimal"
