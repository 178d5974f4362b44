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


def test_delete_all_removes_every_blob_but_keeps_snapshots(storage: LocalBlobStorage) -> None:
    storage.put_stream("imodels/1/0.bim", io.BytesIO(b"model"))
    storage.put_stream("top.bin", io.BytesIO(b"top"))
    storage.save_snapshot("world")
    storage.delete_all()
    assert not storage.exists("imodels/1/0.bim")
    assert not storage.exists("top.bin")
    storage.restore_snapshot("world")
    assert storage.open("imodels/1/0.bim").read() == b"model"


def test_restored_snapshot_holds_exactly_the_saved_blobs(storage: LocalBlobStorage) -> None:
    storage.put_stream("a/kept.bin", io.BytesIO(b"kept"))
    storage.put_stream("a/changed.bin", io.BytesIO(b"before"))
    totals = storage.save_snapshot("world")
    assert (totals.count, totals.size) == (2, 10)
    storage.put_stream("a/changed.bin", io.BytesIO(b"after"))
    storage.put_stream("b/added.bin", io.BytesIO(b"added"))
    storage.delete("a/kept.bin")

    storage.restore_snapshot("world")

    assert storage.open("a/kept.bin").read() == b"kept"
    assert storage.open("a/changed.bin").read() == b"before"
    assert not storage.exists("b/added.bin")
    # The snapshot is not changed by writes after its restore (blobs are replaced, never written in place).
    storage.put_stream("a/kept.bin", io.BytesIO(b"overwritten"))
    storage.restore_snapshot("world")
    assert storage.open("a/kept.bin").read() == b"kept"


def test_deleted_or_unknown_snapshot_cannot_be_restored(storage: LocalBlobStorage) -> None:
    storage.save_snapshot("world")
    storage.delete_snapshot("world")
    with pytest.raises(BlobNotFound):
        storage.restore_snapshot("world")


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", ".."])
def test_snapshot_names_are_one_visible_folder(storage: LocalBlobStorage, name: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        storage.save_snapshot(name)
