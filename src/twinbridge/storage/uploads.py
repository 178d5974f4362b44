"""Receiving a request body as a file without holding it in memory."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path


class UploadTooLarge(ValueError):
    pass


async def receive_to_temporary_file(
    chunks: AsyncIterator[bytes], directory: Path, max_size: int, declared_size: str | None = None
) -> tuple[Path, int]:
    """Writes the stream to a new file in `directory`; the caller owns (and deletes) the file.

    A body whose `declared_size` (its Content-Length) is already too large is refused before it is read. On
    a full disk the OSError (ENOSPC) goes up and the partial file is removed.
    """
    if declared_size is not None and declared_size.isdigit() and int(declared_size) > max_size:
        raise UploadTooLarge(f"more than {max_size} bytes")
    path = await asyncio.to_thread(_new_temporary_file, directory)
    size = 0
    try:
        with path.open("wb") as handle:  # opening is instant; writes go to a thread
            async for chunk in chunks:
                size += len(chunk)
                if size > max_size:
                    raise UploadTooLarge(f"more than {max_size} bytes")
                await asyncio.to_thread(handle.write, chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, size


def _new_temporary_file(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=directory, prefix="upload-")
    os.close(descriptor)
    return Path(name)
