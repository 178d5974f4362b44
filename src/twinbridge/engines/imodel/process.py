"""One long-lived engine process (node engine.js) and the framed pipe protocol to it.

A reader thread moves stdout frames into a small bounded queue: the caller waits on the queue with a
timeout (so a hung engine is noticed), and the bound gives back-pressure (the engine blocks on a full pipe
instead of Python buffering a whole export). One command runs at a time; callers get exclusive use of a
process through `EnginePool`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import functools
import logging
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson

from twinbridge.engines.imodel.errors import (
    EngineCrashedError,
    EngineError,
    EngineProtocolError,
    EngineTimeoutError,
    EngineUnavailableError,
)
from twinbridge.engines.imodel.frames import FRAME_HEADER, MAX_FRAME_BYTES, Frame, parse_frame

logger = logging.getLogger(__name__)

NODE_DIRECTORY = Path(__file__).resolve().parent / "node"
ENGINE_SCRIPT = NODE_DIRECTORY / "engine.js"
# Frames waiting for the consumer; 16 batches of at most ~4 MB bound what Python holds per engine.
FRAME_QUEUE_SIZE = 16
STDERR_TAIL_LINES = 40


@dataclass(frozen=True)
class EngineOptions:
    """How engine processes are started and how long their answers may take."""

    node: str | None = None  # default: shutil.which("node")
    script: Path = ENGINE_SCRIPT
    warm_timeout: float = 180.0
    request_timeout: float = 120.0
    # Longest silence allowed between two frames of a streaming op (one faceter chunk must fit in it).
    stream_idle_timeout: float = 300.0
    environment: Mapping[str, str] = field(default_factory=dict)
    # Each process gets a directory of its own under this one: the native library locks its profile
    # directory, so two engines sharing one fail with "profile ... is already in use by another process".
    cache_directory: Path | None = None


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return cast(Callable[..., int], libc.prctl)
    except (OSError, AttributeError):
        return None


# Looked up once in the parent: the child between fork and exec should only make the system call.
_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _prepare_child(parent_pid: int) -> None:
    """Runs in the child between fork and exec (preexec_fn): no core dumps, die with the parent."""
    # A native crash is an expected event (damaged geometry); dumping a 300 MB core each time took
    # seconds per crash and fills disks.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if _PRCTL is not None:
        # The kernel SIGKILLs the engine when its parent goes, even on kill -9 of the parent (engine.js
        # also watches its ppid and stdout, for other systems and as a second line).
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)  # the parent died before the death signal was armed


def _spawn(arguments: list[str], **options: Any) -> subprocess.Popen[bytes]:
    # PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process. Engines are
    # started from whatever thread needs one (a run's worker thread, a pool replacing a crashed engine), so
    # they are all forked from one long-lived thread, which ends only with the Python process.
    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(arguments, **options)

    return _spawner().submit(start).result()


_SPAWNER: concurrent.futures.ThreadPoolExecutor | None = None
_SPAWNER_LOCK = threading.Lock()


def _spawner() -> concurrent.futures.ThreadPoolExecutor:
    global _SPAWNER
    with _SPAWNER_LOCK:
        if _SPAWNER is None:
            _SPAWNER = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="engine-spawner")
        return _SPAWNER


def _forget_spawner_after_fork() -> None:
    # A forked child (a pre-forking server) has no copy of the spawner thread; an executor inherited from the
    # parent would never run the job. It gets its own on first use.
    global _SPAWNER, _SPAWNER_LOCK
    _SPAWNER = None
    _SPAWNER_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_spawner_after_fork)


def high_water_mark_bytes(process_id: int) -> int | None:
    """A process's resident-set high-water mark (VmHWM); None when it cannot be read."""
    try:
        for line in Path(f"/proc/{process_id}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class _EndOfStream:
    """Queued by the reader thread when stdout closes (the process exited)."""


class _ReaderFailure:
    def __init__(self, error: EngineError) -> None:
        self.error = error


_QueueItem = Frame | _EndOfStream | _ReaderFailure


class EngineProcess:
    """A running engine; every method raises an `EngineError` subclass on failure."""

    def __init__(self, options: EngineOptions | None = None) -> None:
        self.options = options or EngineOptions()
        self._process: subprocess.Popen[bytes] | None = None
        self._frames: queue.Queue[_QueueItem] = queue.Queue(maxsize=FRAME_QUEUE_SIZE)
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._next_id = 0
        self._busy = False
        self.warm_info: dict[str, Any] = {}
        self._cache_directory: Path | None = None

    # ---- life cycle

    def start(self, *, warm: bool = True) -> EngineProcess:
        node = self.options.node or shutil.which("node")
        if not node:
            raise EngineUnavailableError("node is not on PATH; the iModel engine needs Node 20 or later")
        script = self.options.script
        if not script.is_file():
            raise EngineUnavailableError(f"the engine program {script} is missing")
        if not (script.parent / "node_modules" / "@itwin" / "core-backend").is_dir():
            raise EngineUnavailableError(
                f"the engine's npm packages are not installed in {script.parent} (run `make setup`)"
            )
        base = (
            self.options.cache_directory
            or Path(tempfile.gettempdir()) / f"twinbridge-imodel-cache-{os.getuid()}"
        )
        self._cache_directory = base / f"engine-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._cache_directory.mkdir(parents=True, exist_ok=True)
        environment = {
            **os.environ,
            **self.options.environment,
            "TWINBRIDGE_IMODEL_CACHE_DIR": str(self._cache_directory),
        }
        try:
            self._process = _spawn(
                [node, str(script)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=script.parent,
                env=environment,
                # Its own session, so a Ctrl-C in a terminal reaches us first and we shut it down in order.
                start_new_session=True,
                preexec_fn=functools.partial(_prepare_child, os.getpid()),
            )
        except OSError as problem:
            raise EngineUnavailableError(f"cannot start {node} {script}: {problem}") from None
        assert self._process.stdout is not None
        assert self._process.stderr is not None
        threading.Thread(
            target=self._read_frames,
            args=(self._process.stdout,),
            name=f"engine-{self.pid}-stdout",
            daemon=True,
        ).start()
        threading.Thread(
            target=self._read_stderr,
            args=(self._process.stderr,),
            name=f"engine-{self.pid}-stderr",
            daemon=True,
        ).start()
        if warm:
            self.warm_info = self.request("warm", timeout=self.options.warm_timeout)
            logger.debug("engine %s warmed: %s", self.pid, self.warm_info)
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    def kill(self) -> None:
        """Stop the process at once (it hung, crashed, or is in an unknown protocol state)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                process.kill()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            logger.warning("engine %s did not exit after SIGKILL", process.pid)
        self._close_pipes()

    def close(self, timeout: float = 10.0) -> None:
        """Ask the engine to exit (EOF on stdin closes its iModels and ends it), killing it if it lingers."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            try:
                assert process.stdin is not None
                process.stdin.close()
                process.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        self._close_pipes()

    def _close_pipes(self) -> None:
        process = self._process
        if process is not None and process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if self._cache_directory is not None and (process is None or process.poll() is not None):
            shutil.rmtree(self._cache_directory, ignore_errors=True)
            self._cache_directory = None

    def peak_memory_bytes(self) -> int | None:
        """The process's resident-set high-water mark (VmHWM), for benchmarks and metrics."""
        if not self.alive or self.pid is None:
            return None
        return high_water_mark_bytes(self.pid)

    # ---- commands

    def request(self, op: str, *, timeout: float | None = None, **arguments: Any) -> dict[str, Any]:
        """Run a non-streaming op and return its reply; a failure reply raises its `EngineError`."""
        request_id = self._send(op, arguments)
        try:
            while True:
                frame = self._next_frame(timeout or self.options.request_timeout, op)
                message = frame.message
                if message is None or message.get("id") != request_id:
                    continue  # a cancel acknowledgement or a leftover: not ours
                if message.get("ok"):
                    return message
                raise EngineError.from_reply(message.get("error"))
        finally:
            self._busy = False

    def stream(self, op: str, *, idle_timeout: float | None = None, **arguments: Any) -> EngineStream:
        """Start a streaming op; iterate the result for its data frames."""
        request_id = self._send(op, arguments)
        return EngineStream(self, request_id, op, idle_timeout or self.options.stream_idle_timeout)

    def _send(self, op: str, arguments: Mapping[str, Any]) -> int:
        process = self._process
        if process is None or process.stdin is None:
            raise EngineUnavailableError("the engine process has not been started")
        if self._busy:
            raise EngineError("the engine is already running a command", code="ENGINE_BUSY")
        self._next_id += 1
        # orjson: a batch of element specs (half a megabyte) encodes in a tenth of json.dumps's time, which a
        # synchronization spends on its writer thread while the connector's thread needs the same lock.
        line = orjson.dumps(
            {**arguments, "id": self._next_id, "op": op},
            option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY,
        )
        try:
            process.stdin.write(line + b"\n")
            process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise self._crashed(op) from None
        self._busy = True
        return self._next_id

    def _send_cancel(self, target: int) -> None:
        process = self._process
        if process is None or process.stdin is None or not self.alive:
            return
        self._next_id += 1
        line = orjson.dumps({"id": self._next_id, "op": "cancel", "target": target})
        try:
            process.stdin.write(line + b"\n")
            process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def _next_frame(self, timeout: float, op: str) -> Frame:
        try:
            item = self._frames.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            self._busy = False
            raise EngineTimeoutError(
                f"the engine sent nothing for {timeout:g} s during {op!r}; it was killed",
                details={"op": op, "timeout": timeout},
            ) from None
        if isinstance(item, Frame):
            return item
        self._busy = False
        if isinstance(item, _ReaderFailure):
            self.kill()
            raise item.error
        raise self._crashed(op)

    def _crashed(self, op: str) -> EngineCrashedError:
        process = self._process
        return_code = None
        if process is not None:
            try:
                return_code = process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
                return_code = process.returncode
        # Give the stderr reader a moment to collect the last words.
        time.sleep(0.05)
        how = (
            f"was killed by signal {-return_code}"
            if return_code and return_code < 0
            else f"exited ({return_code})"
        )
        tail = [line for line in self._stderr_tail if line.strip() and "] ready pid=" not in line][-3:]
        return EngineCrashedError(
            f"the engine process {how} during {op!r}" + (f": {' | '.join(tail)}" if tail else ""),
            details={"op": op, "returnCode": return_code},
        )

    # ---- reader threads

    def _read_frames(self, stdout: IO[bytes]) -> None:
        try:
            while True:
                header = stdout.read(FRAME_HEADER.size)
                if len(header) < FRAME_HEADER.size:
                    break
                length, kind = FRAME_HEADER.unpack(header)
                if length > MAX_FRAME_BYTES:
                    raise EngineProtocolError(f"a frame claims {length} bytes; the stream is out of step")
                payload = stdout.read(length)
                if len(payload) < length:
                    break
                self._frames.put(parse_frame(kind, payload))
        except EngineError as problem:
            self._frames.put(_ReaderFailure(problem))
            return
        except (OSError, ValueError):
            pass
        self._frames.put(_EndOfStream())

    def _read_stderr(self, stderr: IO[bytes]) -> None:
        try:
            for raw in stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                self._stderr_tail.append(line)
                logger.debug("engine %s: %s", self.pid, line)
        except (OSError, ValueError):
            pass


class EngineStream:
    """The data frames of one streaming op; `result` holds the final reply once iteration ends.

    Leaving the iteration early (break, exception) cancels the op and drains its frames, so the process is
    ready for the next command.
    """

    def __init__(self, engine: EngineProcess, request_id: int, op: str, idle_timeout: float) -> None:
        self.engine = engine
        self.request_id = request_id
        self.op = op
        self.idle_timeout = idle_timeout
        self.result: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[Frame]:
        finished = False
        try:
            while True:
                frame = self.engine._next_frame(self.idle_timeout, self.op)
                message = frame.message
                if message is not None:
                    if message.get("id") != self.request_id:
                        continue
                    if message.get("done") or message.get("ok") is False:
                        finished = True
                        self.engine._busy = False
                        if not message.get("ok"):
                            raise EngineError.from_reply(message.get("error"))
                        self.result = message
                        return
                yield frame
        finally:
            if not finished and self.engine.alive and self.engine._busy:
                self._cancel_and_drain()

    def _cancel_and_drain(self) -> None:
        self.engine._send_cancel(self.request_id)
        try:
            while True:
                frame = self.engine._next_frame(self.idle_timeout, self.op)
                message = frame.message
                if (
                    message is not None
                    and message.get("id") == self.request_id
                    and (message.get("done") or message.get("ok") is False)
                ):
                    break
        except EngineError:
            pass  # the process is gone or was killed; the pool replaces it
        finally:
            self.engine._busy = False
