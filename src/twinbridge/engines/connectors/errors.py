"""Connector failures: bad source files apart from engine failures."""

from __future__ import annotations

from pathlib import Path


class ConnectorError(Exception):
    """A synchronization cannot run (bad arguments or a source file it cannot use)."""


class SourceFileError(ConnectorError):
    """A source file is missing, unreadable, not of the expected format or of an unsupported schema."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[type[SourceFileError], tuple[Path, str]]:
        # Raised in a reading process (reading_process.py), it comes back pickled.
        return (SourceFileError, (self.path, self.problem))
