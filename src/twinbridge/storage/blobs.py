"""Blob storage: where iModel versions, uploads and outputs are kept.

An interface with one implementation per backend, chosen by TWINBRIDGE_STORAGE_URL. Keys are relative
paths with forward slashes ("imodels/<id>/0.bim"). Writes are atomic: a reader never sees half a blob.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

COPY_CHUNK = 1024 * 1024
# Where a storage keeps the snapshots of the control API (twinbridge.control.state): a folder of its own that
# no blob key the server makes starts with, and that `delete_all` leaves alone.
SNAPSHOTS_FOLDER = ".snapshots"


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class BlobTotals:
    """How many blobs a snapshot holds, and their bytes."""

    count: int
    size: int


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

    @abstractmethod
    def delete_all(self) -> None:
        """Removes every blob, keeping the snapshots (the control API's reset)."""

    @abstractmethod
    def save_snapshot(self, name: str) -> BlobTotals:
        """Keeps every blob as it is now under snapshot `name`, replacing a snapshot of that name."""

    @abstractmethod
    def restore_snapshot(self, name: str) -> None:
        """Makes the blobs exactly those saved as snapshot `name` (BlobNotFound where a storage can tell that
        no snapshot has that name; S3 cannot tell it from an empty one)."""

    @abstractmethod
    def delete_snapshot(self, name: str) -> None:
        """Removes snapshot `name`; removing a missing snapshot is not an error."""

    def iter_chunks(self, key: str, chunk_size: int = COPY_CHUNK) -> Iterator[bytes]:
        with self.open(key) as stream:
            while chunk := stream.read(chunk_size):
                yield chunk


class BlobNotFound(LookupError):
    pass


class BlobTooLarge(ValueError):
    pass


def validated_snapshot_name(name: str) -> str:
    """A snapshot is one folder: its name is one part of a key, and never a hidden one."""
    if "/" in name or name.startswith("."):
        raise ValueError(f"invalid snapshot name {name!r}")
    return _validated_key(name)


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

    def _snapshot_path(self, name: str) -> Path:
        return self.root / SNAPSHOTS_FOLDER / validated_snapshot_name(name)

    def _live_files(self) -> Iterator[Path]:
        """Every blob, without the snapshots and the temporary files of writes under way."""
        for entry in self.root.iterdir():
            if entry.name == SNAPSHOTS_FOLDER:
                continue
            candidates = entry.rglob("*") if entry.is_dir() else iter([entry])
            for path in candidates:
                if path.is_file() and not path.name.startswith(".upload-"):
                    yield path

    def delete_all(self) -> None:
        for entry in self.root.iterdir():
            if entry.name == SNAPSHOTS_FOLDER:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def save_snapshot(self, name: str) -> BlobTotals:
        # Hard links cost no copy and are safe: a blob is never changed in place (writes replace the file,
        # and the engine opens snapshots read-only). Built aside, then renamed: a snapshot is whole or absent.
        final = self._snapshot_path(name)
        partial = final.parent / f".partial-{uuid.uuid4().hex}"
        count = size = 0
        try:
            partial.mkdir(parents=True)
            for source in self._live_files():
                _link_or_copy(source, partial / source.relative_to(self.root))
                count += 1
                size += source.stat().st_size
            shutil.rmtree(final, ignore_errors=True)
            os.replace(partial, final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return BlobTotals(count=count, size=size)

    def restore_snapshot(self, name: str) -> None:
        snapshot = self._snapshot_path(name)
        if not snapshot.is_dir():
            raise BlobNotFound(name)
        self.delete_all()
        for source in snapshot.rglob("*"):
            if source.is_file():
                _link_or_copy(source, self.root / source.relative_to(snapshot))

    def delete_snapshot(self, name: str) -> None:
        shutil.rmtree(self._snapshot_path(name), ignore_errors=True)


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows one, a copy elsewhere."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def read_chunks(stream: BinaryIO, chunk_size: int = COPY_CHUNK) -> Iterator[bytes]:
    """The chunks of an already opened blob, closing it at the end (for responses that stream a blob)."""
    with stream:
        while chunk := stream.read(chunk_size):
            yield chunk
