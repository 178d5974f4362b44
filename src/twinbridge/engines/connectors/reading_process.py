"""IfcOpenShell's reading of a file, in processes of its own that end when their part is read.

IfcOpenShell 0.9 keeps most of a file's memory after the file is closed (a process that synchronized a
10,000-product file three times grew by 54 MiB each time; upstream issue IfcOpenShell#7185), and an
entity it has parsed stays parsed: read in the synchronizing process, a file of 200,000 products held
1.5 GB until the end, and that memory stayed. A process that ends gives all of it back, so the products
are read a window at a time (ifc_reader.PRODUCTS_PER_READER), each window by a process of its own, one
after the other.

The processes come from a fork server that has imported the reader once (a fresh interpreter would import
IfcOpenShell and numpy again for each window, about a second). What a process makes goes back pickled
through a pipe, an item at a time: the process makes the next one while the reader uses the last.
"""

from __future__ import annotations

import logging
import multiprocessing
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

# How often `check` is called while a reading process has sent nothing.
CHECK_SECONDS = 0.2

_lock = threading.Lock()
_context: ForkServerContext | None = None
_largest_peak_bytes = 0


def _forkserver() -> ForkServerContext:
    """The fork server's context, made once; this process is made able to start processes first."""
    global _context
    with _lock:
        if _context is None:
            current = multiprocessing.current_process()
            if current.daemon:
                # A worker of `serve` and a Celery pool process are daemonic (they end with their parent),
                # and multiprocessing lets no daemonic process start one. Reading processes end with their
                # reading (and are killed with it, in `read_in_process`), which is what the rule is for.
                current.daemon = False
            if type(current.authkey) is not AuthenticationString:
                # A Celery pool process is billiard's, and so is its key: multiprocessing sends its own kind
                # only (to the fork server, with each process it asks for).
                vars(current)["_config"]["authkey"] = AuthenticationString(bytes(current.authkey))
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
    """What `produce(path, *arguments)` yields, made in a new process. What it raises is raised here (a
    SourceFileError as it is); a process that dies without a word (IfcOpenShell crashed on the file) raises
    SourceFileError for `path`. A caller that stops early ends the process, and so does what `check` raises
    (a canceled run's): it is called every `CHECK_SECONDS` while the process has sent nothing."""
    global _largest_peak_bytes
    context = _forkserver()
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(
        target=_produce_into,
        args=(sending, produce, (path, *arguments)),
        name="twinbridge-ifc-reader",
        daemon=True,
    )
    process.start()
    sending.close()
    try:
        while True:
            while not receiving.poll(CHECK_SECONDS):
                if check is not None:
                    check()
            try:
                kind, value = receiving.recv()
            except EOFError:
                process.join()
                raise SourceFileError(
                    path, f"IfcOpenShell stopped while reading the file (exit code {process.exitcode})"
                ) from None
            if kind == "item":
                yield value
            elif kind == "done":
                _largest_peak_bytes = max(_largest_peak_bytes, value)
                return
            else:
                raise value
    finally:
        receiving.close()
        if process.is_alive():
            process.kill()
        process.join()


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
