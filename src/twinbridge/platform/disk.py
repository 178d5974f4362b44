"""Free disk space where runs write: checked before they write; a full disk told apart from other errors."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import TypeGuard

DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


class NotEnoughDiskSpace(OSError):
    """Less space is free than a run needs; an OSError with ENOSPC, as a write on a full disk raises.

    The message never names the directory: task errors are read by every member of the iTwin.
    """

    def __init__(self, free: int, needed: int) -> None:
        super().__init__(
            errno.ENOSPC,
            f"the server has {free} bytes of free disk space where runs write, and needs at least {needed}",
        )
        self.free = free
        self.needed = needed


def require_free_space(directory: Path, needed: int) -> None:
    """NotEnoughDiskSpace unless `needed` bytes are free on the disk of `directory`."""
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise NotEnoughDiskSpace(free, needed)


def is_disk_full(error: BaseException) -> TypeGuard[OSError]:
    return isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS
