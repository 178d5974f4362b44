from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from twinbridge.storage.backends import create_blob_storage
from twinbridge.storage.blobs import BlobNotFound, BlobTooLarge, LocalBlobStorage


@pytest.fixture
def storage(tmp_path: Path) -> LocalBlobStorage:
    return LocalBlobStorage(tmp_path / "blobs")


def test_stored_stream_reads_back_with_size_and_digest(storage: LocalBlobStorage) -> None:
    blob = storage.put_stream("a/b.bin", io.BytesIO(b"hello"))
    assert (blob.size, blob.sha256) == (5, hashlib.sha256(b"hello").hexdigest())
    assert b"".join(storage.iter_chunks("a/b.bin")) == b"hello"


def test_stream_over_the_limit_stores_nothing(storage: LocalBlobStorage) -> None:
    with pytest.raises(BlobTooLarge):
        storage.put_stream("big.bin", io.BytesIO(b"x" * 10), max_size=5)
    assert not storage.exists("big.bin")
    assert list(storage.root.iterdir()) == []  # no temporary file left behind


def test_missing_blob_is_reported(storage: LocalBlobStorage) -> None:
    with pytest.raises(BlobNotFound):
        storage.open("nope")
    storage.delete("nope")  # deleting what is not there is fine


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", ""])
def test_keys_cannot_leave_the_storage_root(storage: LocalBlobStorage, key: str) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        storage.put_stream(key, io.BytesIO(b"x"))


def test_file_url_selects_local_storage(tmp_path: Path) -> None:
    assert isinstance(create_blob_storage(f"file://{tmp_path}/b"), LocalBlobStorage)
    with pytest.raises(ValueError, match="only file://"):
        create_blob_storage("ftp://host/x")
