"""Blob storage: where iModel versions, uploads and outputs are kept.

An interface with one implementation per backend, chosen by TWINBRIDGE_STORAGE_URL. Keys are relative
paths with forward slashes ("imodels/<id>/0.bim"). Writes are atomic: a reader never sees half a blob.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int
    sha256: str


class BlobStorage(ABC):
    @abstractmethod
    def put_file(self, key: str, source: Path) -> StoredBlob:
        """Copies a local file into the storage under `key`."""

    @abstractmethod
    def put_stream(self, key: str, source: BinaryIO, max_size: int | None = None) -> StoredBlob:
        """Stores a stream under `key`; raises BlobTooLarge past `max_size` and stores nothing."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Opens a blob for reading; raises BlobNotFound."""

    @abstractmethod
    def local_path(self, key: str) -> Path:
        """A local file with the blob's content (the blob itself, or a cached copy for remote backends)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Removes a blob; removing a missing blob is not an error."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    def iter_chunks(self, key: str, chunk_size: int = COPY_CHUNK) -> Iterator[bytes]:
        with self.open(key) as stream:
            while chunk := stream.read(chunk_size):
                yield chunk


class BlobNotFound(LookupError):
    pass


class BlobTooLarge(ValueError):
    pass


def _validated_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in {"", ".", ".."} for part in parts):
        raise ValueError(f"invalid blob key {key!r}")
    return key


class LocalBlobStorage(BlobStorage):
    """Files under a directory; the default of the embedded mode."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _validated_key(key)

    def _write_atomically(self, key: str, source: BinaryIO, max_size: int | None) -> StoredBlob:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        descriptor, temporary_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as temporary:
                while chunk := source.read(COPY_CHUNK):
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise BlobTooLarge(f"more than {max_size} bytes")
                    digest.update(chunk)
                    temporary.write(chunk)
            os.replace(temporary_name, target)
        except BaseException:
            Path(temporary_name).unlink(missing_ok=True)
            raise
        return StoredBlob(key=key, size=size, sha256=digest.hexdigest())

    def put_file(self, key: str, source: Path) -> StoredBlob:
        with source.open("rb") as stream:
            return self._write_atomically(key, stream, None)

    def put_stream(self, key: str, source: BinaryIO, max_size: int | None = None) -> StoredBlob:
        return self._write_atomically(key, source, max_size)

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as missing:
            raise BlobNotFound(key) from missing

    def local_path(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise BlobNotFound(key)
        return path

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def read_chunks(stream: BinaryIO, chunk_size: int = COPY_CHUNK) -> Iterator[bytes]:
    """The chunks of an already opened blob, closing it at the end (for responses that stream a blob)."""
    with stream:
        while chunk := stream.read(chunk_size):
            yield chunk
