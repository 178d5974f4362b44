"""IfcOpenShell's reading of a file, in processes of its own that end when their part is read.

IfcOpenShell 0.9 keeps most of a file's memory after the file is closed (a process that synchronized a
10,000-product file three times grew by 54 MiB each time; upstream issue IfcOpenShell#7185), and an
entity it has parsed stays parsed: read in the synchronizing process, a file of 200,000 products held
1.5 GB until the end, and that memory stayed. A process that ends gives all of it back, so the products
are read a window at a time (ifc_reader.PRODUCTS_PER_READER), each window by a process of its own, one
after the other.

The processes come from a fork server that has imported the reader once (a fresh interpreter would import
IfcOpenShell and numpy again for each window, about a second). What a process makes goes back pickled
through a pipe, an item at a time, at most `READ_AHEAD` items ahead of the reader.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
import resource
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import AuthenticationString  # type: ignore[attr-defined]  # not in typeshed
from pathlib import Path
from typing import Any

from twinbridge.engines.connectors.errors import SourceFileError

logger = logging.getLogger(__name__)

# The fork server imports the main module once (a process started by multiprocessing imports it otherwise,
# and for `twinbridge serve` that is the whole CLI) and the reader.
PRELOADED_MODULES = ["__main__", "twinbridge.engines.connectors.ifc_reader"]

# Messages taken from a reading process's pipe ahead of the reader (each a batch of records, about 0.3 MB).
READ_AHEAD = 8
CHECK_SECONDS = 0.2

_lock = threading.Lock()
_context: ForkServerContext | None = None
_largest_peak_bytes = 0


def _forkserver() -> ForkServerContext:
    global _context
    with _lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            assert isinstance(context, ForkServerContext)
            context.set_forkserver_preload(PRELOADED_MODULES)
            _context = context
        return _context


def largest_peak_bytes() -> int:
    """The largest resident-memory high-water mark of the reading processes this process has started."""
    return _largest_peak_bytes


def read_in_process(
    path: Path,
    produce: Callable[..., Iterator[Any]],
    *arguments: Any,
    check: Callable[[], None] | None = None,
) -> Iterator[Any]:
    """What `produce(*arguments)` yields, made in a new process. What it raises is raised here (a
    SourceFileError as it is); a process that dies without a word (IfcOpenShell crashed on the file) raises
    SourceFileError for `path`. A caller that stops early ends the process, and so does what `check` raises
    (a canceled run's): it is called every `CHECK_SECONDS` while the process has sent nothing.

    A thread takes what the process sends as it comes, up to `READ_AHEAD` items ahead of the caller: the
    process goes on making the next ones while the caller is busy (a synchronization waiting for its
    engine), instead of waiting with each one until it is taken."""
    global _largest_peak_bytes
    context = _forkserver()
    current = multiprocessing.current_process()
    if current.daemon:
        # A worker of `serve` and a Celery pool process are daemonic (they end with their parent), and
        # multiprocessing lets no daemonic process start one. Its reading processes end with their reading
        # (and are killed with it, below), which is what the rule is for.
        current.daemon = False
    if type(current.authkey) is not AuthenticationString:
        # A Celery pool process is billiard's, and so is its key: multiprocessing sends its own kind only
        # (to the fork server, with each process it asks for).
        vars(current)["_config"]["authkey"] = AuthenticationString(bytes(current.authkey))
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(
        target=_produce_into, args=(sending, produce, arguments), name="twinbridge-ifc-reader", daemon=True
    )
    process.start()
    sending.close()
    received: queue.Queue[bytes | None] = queue.Queue(READ_AHEAD)
    stopping = threading.Event()
    taking = threading.Thread(
        target=_take, args=(receiving, received, stopping), name="twinbridge-ifc-reader-pipe", daemon=True
    )
    taking.start()
    try:
        while True:
            try:
                message = received.get(timeout=CHECK_SECONDS)
            except queue.Empty:
                if check is not None:
                    check()
                continue
            if message is None:
                process.join()
                raise SourceFileError(
                    path, f"IfcOpenShell stopped while reading the file (exit code {process.exitcode})"
                )
            kind, value = pickle.loads(message)
            if kind == "item":
                yield value
            elif kind == "done":
                _largest_peak_bytes = max(_largest_peak_bytes, value)
                return
            else:
                raise value
    finally:
        stopping.set()
        if process.is_alive():
            process.kill()
        process.join()
        taking.join()  # the pipe's end came with the process's
        receiving.close()


def _take(receiving: Connection, received: queue.Queue[bytes | None], stopping: threading.Event) -> None:
    """Puts each message of the pipe in `received`, then None when the pipe ends."""
    while True:
        message: bytes | None
        try:
            message = receiving.recv_bytes()
        except (EOFError, OSError):
            message = None
        while not stopping.is_set():
            try:
                received.put(message, timeout=0.1)
                break
            except queue.Full:
                continue
        if message is None or stopping.is_set():
            return


def _produce_into(
    sending: Connection, produce: Callable[..., Iterator[Any]], arguments: tuple[Any, ...]
) -> None:
    """A reading process: sends each item, then its memory's peak ("done") or what it raised ("error")."""
    try:
        for item in produce(*arguments):
            sending.send(("item", item))
    except BaseException as problem:  # whatever it is, the reader raises it
        if not isinstance(problem, SourceFileError):
            logger.exception("reading an IFC file failed")
        try:
            sending.send(("error", problem))
        except Exception:  # an exception that does not pickle: its text
            sending.send(("error", RuntimeError(f"{type(problem).__name__}: {problem}")))
        return
    sending.send(("done", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
