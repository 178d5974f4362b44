"""An iModel opened on a pooled engine: streamed ECSQL and crash-tolerant per-element graphics."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from twinbridge.engines.imodel.errors import (
    EngineCrashedError,
    EngineError,
    EngineTimeoutError,
    GraphicsExportError,
)
from twinbridge.engines.imodel.frames import (
    MeshRecord,
    decode_mesh_batch,
    element_id_from_hex,
    element_id_to_hex,
    group_by_element,
)
from twinbridge.engines.imodel.process import EngineProcess


class EngineReplacer(Protocol):
    """What a session needs of its pool (EnginePool): a fresh engine for one that crashed or hung."""

    def replace(self, engine: EngineProcess) -> EngineProcess: ...


logger = logging.getLogger(__name__)

# Failures after which the engine is replaced and the batch that was being faceted is split.
_RECOVERABLE = (EngineCrashedError, EngineTimeoutError, GraphicsExportError)


@dataclass(frozen=True, slots=True)
class ElementGraphics:
    """The graphics of one element; `failed` means the faceter crashed on it (it has no records)."""

    element_id: int
    records: list[MeshRecord]
    failed: bool = False

    @property
    def triangle_count(self) -> int:
        return sum(record.triangle_count for record in self.records)


@dataclass
class GraphicsExportReport:
    """Counts of one `export_graphics` call, filled while it streams."""

    elements_with_graphics: int = 0
    triangles: int = 0
    failed_element_ids: list[int] = field(default_factory=list)
    engine_restarts: int = 0


class IModelSession:
    """Commands against one open iModel; use through `EnginePool.open`."""

    def __init__(self, pool: EngineReplacer, engine: EngineProcess, path: Path) -> None:
        self.pool = pool
        self.engine = engine
        self.path = path.resolve()
        self.handle: str | None = None
        self.info: dict[str, Any] = {}

    def open(self) -> None:
        reply = self.engine.request("open", path=str(self.path))
        self.handle = str(reply["handle"])
        self.info = reply

    def close(self) -> None:
        if self.handle is None or not self.engine.alive:
            return
        try:
            self.engine.request("close", handle=self.handle)
        except EngineError as problem:
            logger.warning("closing %s on engine %s failed: %s", self.path, self.engine.pid, problem)
            self.engine.kill()  # the pool replaces a process in an unknown state
        self.handle = None

    def _restart(self) -> None:
        """A fresh engine with the same iModel open (handles do not survive the process)."""
        self.engine = self.pool.replace(self.engine)
        self.handle = None
        self.open()

    # ---- queries

    def query(
        self, ecsql: str, params: Sequence[Any] | dict[str, Any] | None = None, *, batch_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Rows of an ECSQL statement, streamed (iTwin.js property names: ids are hex strings)."""
        arguments: dict[str, Any] = {"handle": self.handle, "ecsql": ecsql, "batchSize": batch_size}
        if params is not None:
            arguments["params"] = params
        for frame in self.engine.stream("query", **arguments):
            if frame.message is not None:
                yield from frame.message.get("rows", ())

    def query_all(
        self, ecsql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        return list(self.query(ecsql, params))

    # ---- graphics

    def export_graphics(
        self,
        element_ids: Sequence[int],
        *,
        frame: Literal["local", "world"] = "local",
        normals: bool = False,
        chunk_size: int = 100,
        report: GraphicsExportReport | None = None,
        **tolerances: float,
    ) -> Iterator[ElementGraphics]:
        """Meshes of the given 3D elements, one `ElementGraphics` per element that has graphics.

        Elements without graphics yield nothing. When the engine dies, hangs or fails on a batch, the
        process is replaced and the batch it announced is split in halves until the element that causes it
        is alone; that element is yielded with `failed=True` (the caller falls back to its bounding box).
        """
        report = report if report is not None else GraphicsExportReport()
        pending: deque[list[int]] = deque([list(element_ids)] if element_ids else [])
        delivered: set[int] = set()
        while pending:
            group = [element_id for element_id in pending.popleft() if element_id not in delivered]
            if not group:
                continue
            announced: list[int] = []
            try:
                stream = self.engine.stream(
                    "exportGraphics",
                    handle=self.handle,
                    elementIds=[element_id_to_hex(element_id) for element_id in group],
                    frame=frame,
                    normals=normals,
                    chunkSize=chunk_size,
                    progress=True,
                    ignoreMissing=True,
                    **tolerances,
                )
                for data in stream:
                    if data.message is not None:
                        progress = data.message.get("progress")
                        if progress:
                            announced = [element_id_from_hex(text) for text in progress.get("exporting", ())]
                        continue
                    for element_id, records in group_by_element(decode_mesh_batch(data.payload).records):
                        delivered.add(element_id)
                        graphics = ElementGraphics(element_id, records)
                        report.elements_with_graphics += 1
                        report.triangles += graphics.triangle_count
                        yield graphics
            except _RECOVERABLE as failure:
                suspects = [element_id for element_id in announced if element_id not in delivered]
                if not suspects:
                    suspects = [element_id for element_id in group if element_id not in delivered]
                suspect_set = set(suspects)
                rest = [
                    element_id
                    for element_id in group
                    if element_id not in delivered and element_id not in suspect_set
                ]
                if not isinstance(failure, GraphicsExportError) or not self.engine.alive:
                    report.engine_restarts += 1
                    self._restart()
                if len(suspects) == 1:
                    culprit = suspects[0]
                    logger.warning(
                        "the iModel engine cannot facet element %s of %s (%s); using its bounding box",
                        element_id_to_hex(culprit),
                        self.path.name,
                        failure,
                    )
                    delivered.add(culprit)
                    report.failed_element_ids.append(culprit)
                    if rest:
                        pending.appendleft(rest)
                    yield ElementGraphics(culprit, [], failed=True)
                    continue
                logger.info(
                    "the iModel engine failed on a batch of %d elements (%s); splitting it",
                    len(suspects),
                    failure,
                )
                half = len(suspects) // 2
                if rest:
                    pending.appendleft(rest)
                pending.appendleft(suspects[half:])
                pending.appendleft(suspects[:half])
