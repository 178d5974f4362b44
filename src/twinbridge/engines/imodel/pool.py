"""A pool of warmed engine processes shared by the runs of one Python process.

Starting an engine costs about a second of CPU (loading the native library and warming it), so processes
live as long as the pool and serve one caller at a time. A process that crashed or hung is killed and a
fresh one takes its slot.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from twinbridge.engines.imodel.errors import EngineCancelledError, EngineUnavailableError
from twinbridge.engines.imodel.process import EngineOptions, EngineProcess
from twinbridge.engines.imodel.session import IModelSession

if TYPE_CHECKING:
    from twinbridge.config import Settings

logger = logging.getLogger(__name__)


class EnginePool:
    """At most `size` engine processes; `acquire` blocks while all are in use."""

    def __init__(self, size: int = 2, options: EngineOptions | None = None) -> None:
        if size < 1:
            raise ValueError("an engine pool needs at least one process")
        self.size = size
        self.options = options or EngineOptions()
        self.restarts = 0
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[EngineProcess] = []
        self._running: set[EngineProcess] = set()
        self._closed = False
        self._crash_next = False
        self._interrupted = threading.Event()

    @classmethod
    def from_settings(cls, settings: Settings, options: EngineOptions | None = None) -> EnginePool:
        """One engine per concurrent run (TWINBRIDGE_WORKERS), with the engine cache in the data dir."""
        options = options or EngineOptions(cache_directory=settings.data_dir / "engine-cache")
        return cls(settings.workers, options)

    def start(self) -> None:
        """Start and warm every process now instead of on first use (servers do this at start-up)."""
        engines = [self.acquire() for _ in range(self.size)]
        for engine in engines:
            self.release(engine)

    def acquire(self, timeout: float | None = None) -> EngineProcess:
        if self._closed:
            raise EngineUnavailableError("the engine pool is closed")
        self.raise_if_interrupted()
        if not self._slots.acquire(timeout=timeout):
            raise EngineUnavailableError(f"no iModel engine became free within {timeout:g} s")
        with self._lock:
            engine = self._idle.pop() if self._idle else None
        try:
            if engine is None or not engine.alive:
                if engine is not None:
                    self._forget(engine)
                engine = self._start_engine()
        except BaseException:
            self._slots.release()
            raise
        if self._crash_next:
            self._crash_next = False
            logger.warning("killing iModel engine process %s on request (an injected crash)", engine.pid)
            engine.kill()
        return engine

    def crash_next_acquired(self, crash: bool = True) -> None:
        """Fault injection (the control API's engine faults, twinbridge's own): the next engine handed out is
        killed first, as a native crash would kill it, so that its first command fails with
        EngineCrashedError; the pool then replaces it as it replaces any crashed engine. `False` withdraws
        a crash no engine took (the run ended before it needed one)."""
        self._crash_next = crash

    def release(self, engine: EngineProcess) -> None:
        try:
            if engine.alive and not self._closed:
                with self._lock:
                    self._idle.append(engine)
            else:
                engine.kill()
                self._forget(engine)
        finally:
            self._slots.release()

    def replace(self, engine: EngineProcess) -> EngineProcess:
        """Kill a process that crashed, hung or lost protocol sync, and start a fresh one in its slot."""
        engine.kill()
        self._forget(engine)
        self.raise_if_interrupted()
        logger.warning("replacing iModel engine process %s", engine.pid)
        self.restarts += 1
        return self._start_engine()

    def interrupt(self) -> None:
        """Stops the work of every engine now (its run was canceled): the processes are killed, and until
        `resume` no engine is handed out or started, so the caller's next engine call fails with
        EngineCancelledError instead of being retried on a fresh engine."""
        self._interrupted.set()
        with self._lock:
            engines = list(self._running)
        for engine in engines:
            engine.kill()

    def resume(self) -> None:
        """After an `interrupt`, once the canceled work has ended: engines start again (on first use)."""
        self._interrupted.clear()

    def raise_if_interrupted(self) -> None:
        """EngineCancelledError after an `interrupt`: for work that checks between its steps."""
        if self._interrupted.is_set():
            raise EngineCancelledError("the engine work was canceled")

    @contextmanager
    def engine(self, timeout: float | None = None) -> Iterator[EngineProcess]:
        engine = self.acquire(timeout)
        try:
            yield engine
        finally:
            self.release(engine)

    @contextmanager
    def open(self, path: Path | str, timeout: float | None = None) -> Iterator[IModelSession]:
        """An open iModel on an engine of this pool, closed and returned to the pool at the end."""
        engine = self.acquire(timeout)
        session = IModelSession(self, engine, Path(path))
        try:
            session.open()
            yield session
        finally:
            session.close()
            self.release(session.engine)

    def peak_memory_bytes(self) -> int:
        """Sum of the resident-set high-water marks of the running processes."""
        with self._lock:
            engines = list(self._running)
        return sum(engine.peak_memory_bytes() or 0 for engine in engines)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            engines = list(self._running)
            self._idle.clear()
            self._running.clear()
        for engine in engines:
            engine.close()

    def __enter__(self) -> EnginePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start_engine(self) -> EngineProcess:
        engine = EngineProcess(self.options)
        try:
            engine.start(warm=True)
        except BaseException:
            engine.kill()
            raise
        with self._lock:
            self._running.add(engine)
        logger.debug("started iModel engine process %s", engine.pid)
        return engine

    def _forget(self, engine: EngineProcess) -> None:
        with self._lock:
            self._running.discard(engine)
