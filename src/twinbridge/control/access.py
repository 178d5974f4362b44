"""Where the control API lives. It exists only when TWINBRIDGE_CONTROL_API is set: twinbridge.features
includes its routers and middleware then, and otherwise its paths are unknown ones (404, and not in the
OpenAPI document)."""

from __future__ import annotations

CONTROL_PREFIX = "/_twinbridge"
