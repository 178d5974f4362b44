"""The request journal: the last requests of this API process and their answers, newest first.

Kept in the process's memory (per process: in scale-out mode each API process journals the requests it
answered), in a ring of TWINBRIDGE_JOURNAL_SIZE entries. Bodies are kept only with TWINBRIDGE_JOURNAL_BODIES,
their first BODY_LIMIT bytes: JSON as JSON, anything else (or a cut JSON document) as text.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

BODY_LIMIT = 64 * 1024
_GLOB_CHARACTERS = frozenset("*?[")


@dataclass
class CapturedBody:
    """The first BODY_LIMIT bytes of a body, as it streams past."""

    content_type: str = ""
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0

    def add(self, chunk: bytes) -> None:
        if chunk and self.size < BODY_LIMIT:
            self.chunks.append(chunk[: BODY_LIMIT - self.size])
        self.size += len(chunk)

    @property
    def truncated(self) -> bool:
        return self.size > BODY_LIMIT

    def value(self) -> Any:
        """JSON as the document it is; other bodies as text; None for an empty one."""
        if self.size == 0:
            return None
        content = b"".join(self.chunks)
        if not self.truncated and "json" in self.content_type:
            try:
                return json.loads(content)
            except ValueError:
                pass
        return content.decode("utf-8", errors="replace")

    def error_code(self) -> str | None:
        """The code of an error envelope `{"error": {"code"}}`, or the `error` of an RFC 6749 answer."""
        document = self.value() if "json" in self.content_type else None
        if not isinstance(document, dict):
            return None
        error = document.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            return str(error["code"])
        return error if isinstance(error, str) else None


@dataclass
class JournalEntry:
    sequence: int
    timestamp: str
    method: str
    path: str
    query: str
    operation_id: str | None
    status: int | None  # None: the connection was dropped without an answer
    error_code: str | None
    caller: str | None
    duration_ms: float
    fault_ids: list[str]
    answered_by_fault: bool
    request_body: CapturedBody | None = None
    response_body: CapturedBody | None = None


@dataclass(frozen=True)
class JournalFilter:
    """Each given field must match; `path` is a glob when it has `*`, `?` or `[`, a prefix otherwise;
    `status` is a status (`404`) or a class of them (`4xx`)."""

    method: str | None = None
    path: str | None = None
    operation_id: str | None = None
    status: str | None = None
    caller: str | None = None

    def matches(self, entry: JournalEntry) -> bool:
        if self.method is not None and entry.method != self.method.upper():
            return False
        if self.path is not None:
            if _GLOB_CHARACTERS.intersection(self.path):
                if not fnmatchcase(entry.path, self.path):
                    return False
            elif not entry.path.startswith(self.path):
                return False
        if self.operation_id is not None and entry.operation_id != self.operation_id:
            return False
        if self.status is not None and not _status_matches(entry.status, self.status):
            return False
        return self.caller is None or entry.caller == self.caller


def _status_matches(status: int | None, wanted: str) -> bool:
    if status is None:
        return False
    if wanted.lower().endswith("xx"):
        return str(status)[0] == wanted[0]
    return str(status) == wanted


class Journal:
    def __init__(self, size: int, bodies: bool) -> None:
        self.size = size
        self.bodies = bodies
        self.entries: deque[JournalEntry] = deque(maxlen=size)
        self.sequence = 0

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def record(self, entry: JournalEntry) -> None:
        """Keeps `entry`, numbered in the order answers ended; the oldest entry goes when the ring is full."""
        self.sequence += 1
        entry.sequence = self.sequence
        self.entries.append(entry)

    def clear(self) -> None:
        self.entries.clear()

    def newest_first(self, matching: JournalFilter, top: int | None) -> Iterator[JournalEntry]:
        found = 0
        for entry in reversed(self.entries):
            if top is not None and found >= top:
                return
            if matching.matches(entry):
                found += 1
                yield entry
