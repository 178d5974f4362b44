"""The data directory and its files are private to the server's user: the SQLite database, the issuer's
signing key and the blobs hold secrets and callers' data.

Directories are made 0700 and files 0600 when they are created (by mode, not by the umask alone), and an
existing data directory or database file that others may read is made private when the server opens it.
The `twinbridge` command also sets its umask to 0077, so that whatever else its processes write (blobs,
temporary files, the SQLite WAL) is private too.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600


def _restrict(path: Path, mode: int) -> None:
    """Takes group and other permissions away from a path this user owns (another's is left alone)."""
    status = path.stat()
    if status.st_uid == os.getuid() and status.st_mode & 0o077:
        os.chmod(path, mode)


def private_directory(path: Path) -> Path:
    """Makes `path` (and any missing parent, as a new parent holds only what is ours) a private directory."""
    missing = [parent for parent in (path, *path.parents) if not parent.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIRECTORY, exist_ok=True)
        os.chmod(directory, PRIVATE_DIRECTORY)  # mkdir's mode is narrowed by the umask, never widened
    _restrict(path, PRIVATE_DIRECTORY)
    return path


def private_file(path: Path) -> Path:
    """Creates `path` empty with mode 0600 if it does not exist, or takes away what others may do with it:
    an SQLite database, with its WAL and shared-memory files (SQLite makes them with the database's mode)."""
    if not path.parent.exists():
        private_directory(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    os.close(descriptor)
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if companion.exists():
            _restrict(companion, PRIVATE_FILE)
    return path
