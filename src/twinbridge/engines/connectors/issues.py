"""What a synchronization could not carry into the iModel exactly as the source file has it.

Every such thing is named, per product, in the run's task details (and it ends PartialSuccess): nothing of a
user's file is left out silently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyncIssue:
    code: str
    message: str
    global_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.global_id is not None:
            body["globalId"] = self.global_id
        return body


@dataclass(frozen=True)
class SkippedItem:
    """An IFC product of a file that the connector does not import, and why (the diagnostic report lists
    each one)."""

    ifc_class: str
    reason: str
    global_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        body = {"ifcClass": self.ifc_class, "reason": self.reason}
        if self.global_id is not None:
            body["globalId"] = self.global_id
        return body
