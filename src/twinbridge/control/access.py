"""The gate every control operation passes: the control API exists only when the setting enables it."""

from __future__ import annotations

from fastapi import Request

from twinbridge.platform.errors import NotFound
from twinbridge.platform.openapi import ENVELOPE_REFERENCE
from twinbridge.runtime import Runtime

CONTROL_PREFIX = "/_twinbridge"
# Every control operation answers 404 while the control API is disabled: documented so (the schema fuzzer
# holds the document to what the server answers). `responses=` of a control router.
DISABLED_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {
        "description": "The control API is disabled (TWINBRIDGE_CONTROL_API), or what the path names is not "
        "there.",
        "content": {"application/json": {"schema": ENVELOPE_REFERENCE}},
    }
}


async def require_control_api(request: Request) -> None:
    """A disabled control API answers as an unknown path does, so that nothing reveals it."""
    runtime: Runtime = request.app.state.runtime
    if not runtime.settings.control_api:
        raise NotFound()
