"""The gate every control operation passes: the control API exists only when the setting enables it."""

from __future__ import annotations

from fastapi import Request

from twinbridge.platform.errors import NotFound
from twinbridge.runtime import Runtime

CONTROL_PREFIX = "/_twinbridge"


async def require_control_api(request: Request) -> None:
    """A disabled control API answers as an unknown path does, so that nothing reveals it."""
    runtime: Runtime = request.app.state.runtime
    if not runtime.settings.control_api:
        raise NotFound()
