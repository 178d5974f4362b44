"""Blob transfers the way Azure Blob Storage clients make them: ranged downloads, and uploads in blocks.

Bentley's storage clients hand iModel files to @azure/storage-blob, which needs `Content-Length` and `ETag` on
a download, resumes one with `x-ms-range` (or `Range`) and `If-Match`, and uploads a file over 256 MiB as
Put Block requests (`?comp=block&blockid=<id>`) followed by one Put Block List (`?comp=blocklist`, an XML list
of the block ids in file order). iTwin.js probes a checkpoint's size with `Range: bytes=0-0`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from twinbridge.platform.errors import ApiError, ErrorDetail, InvalidRequest
from twinbridge.storage.blobs import COPY_CHUNK, BlobStorage

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
# Where a Put Block List names its blocks, in file order (Azure's three kinds of entry).
_BLOCK_ENTRIES = ("Latest", "Committed", "Uncommitted")


class RangeNotSatisfiable(ApiError):
    """416 with Azure Blob Storage's code, and the size of the file in Content-Range."""

    status_code = 416
    default_code = "InvalidRange"
    default_message = "The range specified is invalid for the current size of the resource."

    def __init__(self, size: int) -> None:
        super().__init__(headers={"Content-Range": f"bytes */{size}"})


class ConditionNotMet(ApiError):
    """412: an `If-Match` that names another version of the file (Azure's code)."""

    status_code = 412
    default_code = "ConditionNotMet"
    default_message = "The condition specified using HTTP conditional header(s) is not met."


def invalid_block_list(message: str) -> InvalidRequest:
    return InvalidRequest(details=[ErrorDetail("InvalidBlockList", message, "comp")])


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The one range a `Range`/`x-ms-range` header asks for; None for the whole file.

    A header this server does not read (several ranges, another unit) is ignored, as HTTP allows: the whole
    file is answered. A range that starts past the end raises RangeNotSatisfiable.
    """
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # bytes=-n: the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    if last != "" and int(last) < start:
        return None  # not a valid range: ignored (RFC 9110 section 14.1.1)
    if start >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(start, size - 1 if last == "" else min(int(last), size - 1))


def etag_of(sha256: str) -> str:
    """A version's ETag: its content hash, quoted, as Azure quotes ETags."""
    return f'"{sha256}"'


def check_if_match(header: str | None, etag: str) -> None:
    if header is None:
        return
    tags = {tag.strip() for tag in header.split(",")}
    if "*" not in tags and etag not in tags and etag.strip('"') not in tags:
        raise ConditionNotMet()


def read_range(stream: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    """`length` bytes of an opened blob from `start`, closing it at the end (for a streamed response)."""
    with stream:
        if start:
            if stream.seekable():
                stream.seek(start)
            else:  # a remote blob's stream: read up to the start
                skipped = 0
                while skipped < start and (chunk := stream.read(min(COPY_CHUNK, start - skipped))):
                    skipped += len(chunk)
        left = length
        while left > 0 and (chunk := stream.read(min(COPY_CHUNK, left))):
            left -= len(chunk)
            yield chunk


def block_ids(document: bytes) -> list[str]:
    """The block ids of a Put Block List body, in order; raises InvalidRequest for anything else."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as problem:
        raise invalid_block_list(f"The block list is not valid XML: {problem}.") from None
    if root.tag != "BlockList":
        raise invalid_block_list("The block list must be a <BlockList> element.")
    ids = []
    for entry in root:
        if entry.tag not in _BLOCK_ENTRIES or not (entry.text or "").strip():
            raise invalid_block_list(
                f"The block list may hold only non-empty {', '.join(_BLOCK_ENTRIES)} elements."
            )
        ids.append((entry.text or "").strip())
    if not ids:
        raise invalid_block_list("The block list names no block.")
    return ids


class ConcatenatedBlobs:
    """Blobs read one after the other as one stream, for `BlobStorage.put_stream`."""

    def __init__(self, blobs: BlobStorage, keys: list[str]) -> None:
        self.blobs = blobs
        self.keys = list(reversed(keys))
        self.current: BinaryIO | None = None

    def read(self, size: int = -1) -> bytes:
        while True:
            if self.current is None:
                if not self.keys:
                    return b""
                self.current = self.blobs.open(self.keys.pop())
            chunk = self.current.read(size if size > 0 else COPY_CHUNK)
            if chunk:
                return chunk
            self.current.close()
            self.current = None

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None
