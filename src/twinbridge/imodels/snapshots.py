"""Empty iModels made by the iModel engine, for `POST /imodels` without a baseline file.

Each creation starts an engine process of its own and stops it when the file is written (about a second):
an API process keeps no engine, and its few hundred MB, for an operation this rare. At most two creations
use an engine at once in one process; more wait their turn.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENGINES_AT_ONCE = threading.BoundedSemaphore(2)
# The engine says so when the native library cannot resolve a coordinate system (engine.js `create`).
GCS_NOT_AVAILABLE = "GCS_NOT_AVAILABLE"


class CoordinateSystemNotAvailable(ValueError):
    """The engine cannot apply the coordinate system asked for; the message says why."""


class SnapshotNotMade(RuntimeError):
    """The engine could not be started or failed; the message says why."""


@dataclass(frozen=True)
class EmptySnapshotRequest:
    """What goes into the file: the iModel's id (as the file's iModel id), name and description (as the
    root subject's), its extent (ECEF location and project extents) and its horizontal coordinate system."""

    imodel_id: str
    name: str
    description: str | None = None
    extent: dict[str, Any] | None = None
    horizontal_crs_id: str | None = None


def make_empty_snapshot(path: Path, request: EmptySnapshotRequest, cache_directory: Path) -> Path:
    """Writes an empty snapshot iModel at `path` (blocking: call it from a thread)."""
    from twinbridge.engines.imodel import EngineError, EngineOptions, EngineProcess

    arguments: dict[str, Any] = {
        "path": str(path),
        "rootSubject": request.name,
        "description": request.description,
        "guid": request.imodel_id,
        "overwrite": True,
    }
    if request.extent is not None:
        arguments["extent"] = request.extent
    if request.horizontal_crs_id is not None:
        arguments["geographicCoordinateSystem"] = {
            "horizontalCRS": {"id": request.horizontal_crs_id},
            "verticalCRS": {"id": "ELLIPSOID"},
        }
    with ENGINES_AT_ONCE:
        engine = EngineProcess(EngineOptions(cache_directory=cache_directory))
        try:
            engine.start(warm=False)
            created = engine.request("create", **arguments)
            engine.request(
                "saveChanges", handle=created["handle"], updateExtents=False, description="Empty iModel"
            )
            engine.request("close", handle=created["handle"])
        except EngineError as failure:
            if failure.code == GCS_NOT_AVAILABLE:
                raise CoordinateSystemNotAvailable(failure.message) from None
            raise SnapshotNotMade(failure.message) from None
        finally:
            engine.close()
    return path


def remove_snapshot(path: Path) -> None:
    """The file and what SQLite may have left beside it."""
    for leftover in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        leftover.unlink(missing_ok=True)
