"""Where a run keeps its files while it executes: a directory of its own, checked for free space first.

The directory is named after the run, so that a retry (after a worker was killed) removes what the
interrupted attempt left; it is removed when the attempt ends, however it ends.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from twinbridge.config import Settings
from twinbridge.platform.disk import require_free_space

# 50 characters of at most 4 bytes, a dot and an ASCII extension stay below the 255 bytes file systems allow.
MAX_STEM_CHARACTERS = 50
UNSAFE_CHARACTERS = re.compile(r"[^\w.\- ]+")
SAFE_SUFFIX = re.compile(r"[A-Za-z0-9]{1,16}")


def local_file_name(name: str, fallback: str) -> str:
    """A file name that is safe to create in a workspace, made from a name a caller chose, which may be `.`,
    `..`, hold separators or control characters, or be too long. The extension is kept."""
    base = UNSAFE_CHARACTERS.sub("_", PurePosixPath(name.replace("\\", "/")).name).strip(" ")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = suffix, ""
    if SAFE_SUFFIX.fullmatch(suffix) is None:
        stem, suffix = base, ""
    stem = stem[:MAX_STEM_CHARACTERS].strip(" .") or fallback
    return f"{stem}.{suffix}" if suffix else stem


@contextmanager
def run_workspace(settings: Settings, run_id: str, expected_bytes: int = 0) -> Iterator[Path]:
    """An empty directory for the run's files; NotEnoughDiskSpace unless TWINBRIDGE_MIN_FREE_DISK bytes,
    plus what the run expects to write, are free."""
    directory = settings.data_dir / "tmp" / f"run-{UNSAFE_CHARACTERS.sub('_', run_id)}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    try:
        require_free_space(directory, settings.min_free_disk + expected_bytes)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
