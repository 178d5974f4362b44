"""Identifiers. iTwins and iModels use GUIDs, as upstream; callers must treat every id as opaque."""

from __future__ import annotations

import uuid


def new_guid() -> str:
    return str(uuid.uuid4())


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
