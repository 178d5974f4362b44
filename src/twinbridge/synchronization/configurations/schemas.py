"""The body of a configuration (every upstream flag, typed) and the shape of its responses."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictBool, create_model

from twinbridge.synchronization.configurations.flags import FLAGS


def _distance(value: Any) -> int | float:
    """A JSON number of metres, 0 or more (an int stays an int, as upstream writes `0`)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError("it must be a number of metres, 0 or more")
    return value


Distance = Annotated[Any, AfterValidator(_distance)]

# Every flag optional: absent leaves it as it is, null (PATCH) unsets it. An unknown name is a 422 naming it.
ConfigurationBody: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ConfigurationBody",
    __config__=ConfigDict(extra="forbid"),
    **{flag.name: ((Distance if flag.is_number else StrictBool) | None, None) for flag in FLAGS},
)


def sent_flags(body: BaseModel) -> dict[str, Any]:
    """The flags the body names, with their values (None for an explicit null)."""
    return body.model_dump(exclude_unset=True)


def configuration_body(scope_id: str, settings: dict[str, Any], resolved: dict[str, Any]) -> dict[str, Any]:
    return {"configuration": {"scopeId": scope_id, "settings": settings, "resolvedSettings": resolved}}
