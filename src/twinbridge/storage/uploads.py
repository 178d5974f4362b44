"""Receiving a request body as a file without holding it in memory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path


class UploadTooLarge(ValueError):
    pass


async def receive_to_temporary_file(
    chunks: AsyncIterator[bytes], directory: Path, max_size: int
) -> tuple[Path, int]:
    """Writes the stream to a new file in `directory`; the caller owns (and deletes) the file."""
    directory.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=directory, prefix="upload-")
    size = 0
    try:
        with os.fdopen(descriptor, "wb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_size:
                    raise UploadTooLarge(f"more than {max_size} bytes")
                handle.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), size
