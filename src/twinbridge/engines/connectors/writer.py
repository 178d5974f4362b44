"""A writable snapshot on one engine process: the write ops of engine.js and node/sync.js, plus ECSQL."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from twinbridge.engines.imodel import EngineProcess

# Element specs per request: keeps each JSON line a few MB at most.
UPSERT_BATCH = 200


class SnapshotWriter:
    """Create (empty or a copy), then ensure/upsert/delete, save and close; call from one thread."""

    def __init__(self, engine: EngineProcess) -> None:
        self.engine = engine
        self.handle: str | None = None
        # Whether anything was written since `create`: an element, a model, a category, a link, a schema,
        # or (at `save`) other project extents.
        self.changed = False

    def create(self, path: Path, *, root_subject: str, base: Path | None = None) -> dict[str, Any]:
        """A new snapshot at `path`: a copy of `base` (opened read-only for the copy) or empty."""
        arguments: dict[str, Any] = {"path": str(path), "rootSubject": root_subject, "overwrite": True}
        source_handle = None
        if base is not None:
            source_handle = str(self.engine.request("open", path=str(base), models=False)["handle"])
            arguments["from"] = source_handle
        try:
            reply = self.engine.request("create", **arguments)
        finally:
            if source_handle is not None:
                self.engine.request("close", handle=source_handle)
        self.handle = str(reply["handle"])
        return reply

    def query(self, ecsql: str, params: Sequence[Any] | None = None) -> Iterator[dict[str, Any]]:
        arguments: dict[str, Any] = {"handle": self.handle, "ecsql": ecsql, "batchSize": 2000}
        if params is not None:
            arguments["params"] = list(params)
        for frame in self.engine.stream("query", **arguments):
            if frame.message is not None:
                yield from frame.message.get("rows", ())

    def needs_schema_upgrade(self, path: Path) -> bool:
        """Whether the iModel file's profile or schemas are older than the engine's (read-only check)."""
        return bool(self.engine.request("upgradeSchemas", path=str(path), dryRun=True)["needed"])

    def upgrade_schemas(self, path: Path) -> dict[str, str]:
        """Upgrades the closed iModel file in place; its schema states before and after."""
        reply = self.engine.request("upgradeSchemas", timeout=600.0, path=str(path))
        return {"before": str(reply["before"]), "after": str(reply["after"])}

    def import_schemas(self, schemas: list[str]) -> None:
        self.engine.request("importSchemas", handle=self.handle, schemas=schemas)
        self.changed = True

    def _ensured(self, reply: dict[str, Any]) -> dict[str, Any]:
        if reply.get("created") or reply.get("updated"):
            self.changed = True
        return reply

    def ensure_model(self, name: str) -> str:
        reply = self.engine.request("ensureModel", handle=self.handle, name=name)
        return str(self._ensured(reply)["modelId"])

    def ensure_category(self, name: str, color: str) -> str:
        reply = self.engine.request("ensureCategory", handle=self.handle, name=name, color=color)
        return str(self._ensured(reply)["categoryId"])

    def ensure_repository_link(
        self,
        code: str,
        url: str,
        *,
        document: dict[str, Any] | None = None,
        ifc_record: dict[str, Any] | None = None,
    ) -> str:
        """The file's RepositoryLink; `document` (the manifest's documentAttribute, or None to remove one)
        is kept in its JSON properties as `documentAttribute`, and `ifc_record` (the file's IFC record,
        docs/ifc-connector.md; None leaves the one it has) as `ifc`."""
        arguments: dict[str, Any] = {"handle": self.handle, "code": code, "url": url, "document": document}
        if ifc_record is not None:
            arguments["ifc"] = ifc_record
        reply = self.engine.request("ensureRepositoryLink", **arguments)
        return str(self._ensured(reply)["linkId"])

    def upsert_elements(self, elements: Sequence[dict[str, Any]]) -> list[str]:
        ids: list[str] = []
        for start in range(0, len(elements), UPSERT_BATCH):
            batch = list(elements[start : start + UPSERT_BATCH])
            reply = self.engine.request("upsertElements", timeout=600.0, handle=self.handle, elements=batch)
            ids += [str(element_id) for element_id in reply["ids"]]
            self.changed = True
        return ids

    def delete_elements(self, ids: Sequence[str]) -> None:
        if ids:
            self.engine.request("deleteElements", handle=self.handle, ids=list(ids))
            self.changed = True

    def clear_codes(self, ids: Sequence[str]) -> None:
        """The elements lose their codes (and nothing else), so that others can take them."""
        if ids:
            self.engine.request("clearCodes", timeout=600.0, handle=self.handle, ids=list(ids))
            self.changed = True

    def save(self, description: str, *, clamp_z: float | None = None) -> None:
        """Saves the changes, the project extents becoming those of the elements; `clamp_z` then bounds
        their Z range to [-clamp_z, clamp_z] (when they have an XY range)."""
        arguments: dict[str, Any] = {"handle": self.handle, "description": description}
        if clamp_z is not None:
            arguments["clampZ"] = clamp_z
        if self.engine.request("saveChanges", timeout=600.0, **arguments).get("extentsChanged"):
            self.changed = True

    def close(self) -> None:
        if self.handle is not None and self.engine.alive:
            self.engine.request("close", handle=self.handle)
        self.handle = None


class BackgroundWrites:
    """A SnapshotWriter's upserts and deletes run in order on a thread of their own, at most `depth` waiting,
    so that the engine (a process of its own) writes one batch while the connector meshes the next.

    Between creation and `finish` (or `abandon`) nothing else may use the writer. A failed write is raised
    by the next `upsert`, `delete` or `finish`; the writes queued after it are dropped.
    """

    def __init__(self, writer: SnapshotWriter, depth: int = 2) -> None:
        self.writer = writer
        self._queue: queue.Queue[tuple[Callable[[Sequence[Any]], Any], Sequence[Any]] | None] = queue.Queue(
            maxsize=depth
        )
        self._failure: BaseException | None = None
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="snapshot-writes", daemon=True)
        self._thread.start()

    def upsert(self, specs: Sequence[dict[str, Any]]) -> None:
        self._submit(self.writer.upsert_elements, specs)

    def delete(self, ids: Sequence[str]) -> None:
        self._submit(self.writer.delete_elements, ids)

    def finish(self) -> None:
        """Waits for every queued write; raises the first that failed."""
        self._stop()
        self._raise_failure()

    def abandon(self) -> None:
        """Drops the queued writes and waits for the one in progress (the caller is failing)."""
        self._abandoned = True
        self._stop()

    def _submit(self, call: Callable[[Sequence[Any]], Any], arguments: Sequence[Any]) -> None:
        self._raise_failure()
        self._queue.put((call, arguments))

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._failure is not None or self._abandoned:
                continue
            call, arguments = item
            try:
                call(arguments)
            except BaseException as problem:  # raised in the caller's thread
                self._failure = problem
