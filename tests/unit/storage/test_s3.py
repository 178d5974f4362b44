"""S3BlobStorage against a real S3-compatible server (moto in server mode, see tests/s3_server.py)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from tests.s3_server import create_bucket, s3_endpoint
from twinbridge.storage.backends import create_blob_storage
from twinbridge.storage.blobs import BlobNotFound, BlobTooLarge
from twinbridge.storage.s3 import S3BlobStorage

__all__ = ["s3_endpoint"]  # the session fixture, imported for the tests below


@pytest.fixture
def storage_url(s3_endpoint: str) -> str:
    return f"s3://{create_bucket(s3_endpoint)}/blobs?endpoint_url={s3_endpoint}"


@pytest.fixture
def storage(storage_url: str, tmp_path: Path) -> S3BlobStorage:
    created = create_blob_storage(storage_url, tmp_path / "cache")
    assert isinstance(created, S3BlobStorage)
    return created


def test_stored_stream_reads_back_with_size_and_digest(storage: S3BlobStorage) -> None:
    blob = storage.put_stream("a/b.bin", io.BytesIO(b"hello"))
    assert (blob.size, blob.sha256) == (5, hashlib.sha256(b"hello").hexdigest())
    assert b"".join(storage.iter_chunks("a/b.bin")) == b"hello"
    assert storage.exists("a/b.bin")


def test_stored_file_reads_back_and_lands_under_the_url_prefix(
    storage: S3BlobStorage, tmp_path: Path
) -> None:
    source = tmp_path / "model.bim"
    source.write_bytes(b"snapshot")
    blob = storage.put_file("imodels/1/0.bim", source)
    assert (blob.size, blob.sha256) == (8, hashlib.sha256(b"snapshot").hexdigest())
    with storage.open("imodels/1/0.bim") as stream:
        assert stream.read() == b"snapshot"
    listed = storage.client.list_objects_v2(Bucket=storage.bucket)["Contents"]
    assert [item["Key"] for item in listed] == ["blobs/imodels/1/0.bim"]


def test_large_file_goes_up_in_parts_and_reads_back(storage: S3BlobStorage, tmp_path: Path) -> None:
    # S3's smallest part is 5 MB: 11 MB with a 5 MB threshold makes three parts.
    part = 5 * 1024 * 1024
    storage.transfer = TransferConfig(multipart_threshold=part, multipart_chunksize=part)
    content = os.urandom(11 * 1024 * 1024)
    source = tmp_path / "large.bin"
    source.write_bytes(content)
    blob = storage.put_file("large.bin", source)
    assert blob.sha256 == hashlib.sha256(content).hexdigest()
    head = storage.client.head_object(Bucket=storage.bucket, Key="blobs/large.bin")
    assert head["ETag"].strip('"').endswith("-3")  # the ETag of a multipart upload counts its parts
    assert storage.local_path("large.bin").read_bytes() == content


def test_stream_over_the_limit_stores_nothing(storage: S3BlobStorage) -> None:
    with pytest.raises(BlobTooLarge):
        storage.put_stream("big.bin", io.BytesIO(b"x" * 10), max_size=5)
    assert not storage.exists("big.bin")
    assert storage.client.list_objects_v2(Bucket=storage.bucket).get("KeyCount") == 0
    assert [path for path in storage.cache_dir.iterdir() if path.is_file()] == []  # no spool file left


def test_stream_at_the_limit_is_stored(storage: S3BlobStorage) -> None:
    assert storage.put_stream("exact.bin", io.BytesIO(b"x" * 5), max_size=5).size == 5


def test_missing_blob_is_reported(storage: S3BlobStorage) -> None:
    with pytest.raises(BlobNotFound):
        storage.open("nope")
    with pytest.raises(BlobNotFound):
        storage.local_path("nope")
    assert not storage.exists("nope")
    storage.delete("nope")  # deleting what is not there is fine


def test_deleted_blob_is_gone(storage: S3BlobStorage) -> None:
    storage.put_stream("gone.bin", io.BytesIO(b"x"))
    storage.delete("gone.bin")
    assert not storage.exists("gone.bin")


def test_local_copy_is_downloaded_once_and_reused(storage: S3BlobStorage) -> None:
    storage.put_stream("imodels/1/0.bim", io.BytesIO(b"version 0"))
    first = storage.local_path("imodels/1/0.bim")
    assert first.read_bytes() == b"version 0"
    assert first.suffix == ".bim"  # the engine goes by the extension
    first_identity = first.stat().st_ino, first.stat().st_mtime_ns
    second = storage.local_path("imodels/1/0.bim")
    assert second == first
    assert (second.stat().st_ino, second.stat().st_mtime_ns) == first_identity


def test_overwritten_blob_is_downloaded_again_and_the_old_copy_dropped(storage: S3BlobStorage) -> None:
    storage.put_stream("out.ifc", io.BytesIO(b"first"))
    first = storage.local_path("out.ifc")
    storage.put_stream("out.ifc", io.BytesIO(b"second, longer"))
    second = storage.local_path("out.ifc")
    assert second != first
    assert second.read_bytes() == b"second, longer"
    assert not first.exists()


def test_caches_of_two_processes_do_not_interfere(storage_url: str, tmp_path: Path) -> None:
    writer = create_blob_storage(storage_url, tmp_path / "api-cache")
    reader = create_blob_storage(storage_url, tmp_path / "worker-cache")
    writer.put_stream("shared.bin", io.BytesIO(b"shared"))
    assert reader.local_path("shared.bin").read_bytes() == b"shared"
    assert reader.local_path("shared.bin").is_relative_to(tmp_path / "worker-cache")


def test_invalid_keys_are_refused(storage: S3BlobStorage) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        storage.put_stream("../escape", io.BytesIO(b"x"))


def test_url_without_bucket_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bucket"):
        create_blob_storage("s3://?endpoint_url=http://127.0.0.1:1", tmp_path)


def test_region_and_endpoint_come_from_the_url(s3_endpoint: str, tmp_path: Path) -> None:
    storage = S3BlobStorage.from_url(f"s3://b?endpoint_url={s3_endpoint}&region=eu-west-1", tmp_path)
    assert storage.client.meta.region_name == "eu-west-1"
    assert storage.client.meta.endpoint_url == s3_endpoint
    assert (storage.bucket, storage.prefix) == ("b", "")


def test_delete_all_and_snapshots_keep_to_the_url_prefix(storage: S3BlobStorage) -> None:
    storage.put_stream("imodels/1/0.bim", io.BytesIO(b"model"))
    storage.put_stream("storage/file.txt", io.BytesIO(b"before"))
    totals = storage.save_snapshot("world")
    assert (totals.count, totals.size) == (2, 11)
    storage.put_stream("storage/file.txt", io.BytesIO(b"after"))
    storage.put_stream("storage/added.txt", io.BytesIO(b"added"))

    storage.delete_all()
    assert not storage.exists("imodels/1/0.bim")
    storage.restore_snapshot("world")

    assert storage.open("storage/file.txt").read() == b"before"
    assert storage.open("imodels/1/0.bim").read() == b"model"
    assert not storage.exists("storage/added.txt")
    listed = storage.client.list_objects_v2(Bucket=storage.bucket)["Contents"]
    assert all(item["Key"].startswith("blobs/") for item in listed)

    storage.delete_snapshot("world")
    storage.delete_all()
    assert "Contents" not in storage.client.list_objects_v2(Bucket=storage.bucket)
