"""Blobs in S3-compatible storage (AWS S3, MinIO, Ceph, ...): the storage of the scale-out mode.

API nodes and workers on different machines share blobs through the bucket. Workers open iModel snapshots
as local files (the engine reads SQLite), so `local_path` keeps a cache of downloaded blobs on local disk,
keyed by the blob's key and its ETag and size: a blob overwritten in the bucket is downloaded again.

TWINBRIDGE_STORAGE_URL is `s3://bucket[/prefix]?endpoint_url=http://host:port&region=...`; credentials and a
region not given in the URL come from the usual AWS sources (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_DEFAULT_REGION, profiles, instance roles), through boto3's default chain.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast
from urllib.parse import parse_qs, urlparse

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from twinbridge.storage.blobs import (
    COPY_CHUNK,
    SNAPSHOTS_FOLDER,
    BlobNotFound,
    BlobStorage,
    BlobTooLarge,
    BlobTotals,
    StoredBlob,
    _validated_key,
    validated_snapshot_name,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Files above this size go up in parts, several at a time (boto3's managed transfer); S3 refuses single
# PUTs above 5 GB and parts make large uploads resumable per part.
MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNK = 64 * 1024 * 1024
NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
# DeleteObjects takes at most this many keys per request.
DELETE_BATCH = 1000


class S3BlobStorage(BlobStorage):
    def __init__(self, client: S3Client, bucket: str, prefix: str, cache_dir: Path) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.cache_dir = cache_dir
        self.transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNK
        )

    @classmethod
    def from_url(cls, storage_url: str, cache_dir: Path) -> S3BlobStorage:
        parsed = urlparse(storage_url)
        if not parsed.netloc:
            raise ValueError(f"TWINBRIDGE_STORAGE_URL {storage_url!r}: the bucket is missing (s3://bucket)")
        options = {name: values[-1] for name, values in parse_qs(parsed.query).items()}
        client = boto3.client(
            "s3",
            endpoint_url=options.get("endpoint_url"),
            region_name=options.get("region"),
            # Path-style addressing works with every S3-compatible server; virtual-host style needs DNS.
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5, "mode": "standard"}),
        )
        return cls(client, parsed.netloc, parsed.path, cache_dir)

    def _object_key(self, key: str) -> str:
        key = _validated_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, source: Path) -> StoredBlob:
        digest = hashlib.sha256()
        size = 0
        with source.open("rb") as stream:
            while chunk := stream.read(COPY_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        # An S3 object appears whole or not at all (a multipart upload too, when it completes).
        self.client.upload_file(str(source), self.bucket, self._object_key(key), Config=self.transfer)
        return StoredBlob(key=key, size=size, sha256=digest.hexdigest())

    def put_stream(self, key: str, source: BinaryIO, max_size: int | None = None) -> StoredBlob:
        # Spooled to a local file first: the size limit is checked before anything reaches the bucket, and
        # the upload then gets boto3's multipart handling of a file.
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.cache_dir, prefix=".upload-") as spool:
            size = 0
            while chunk := source.read(COPY_CHUNK):
                size += len(chunk)
                if max_size is not None and size > max_size:
                    raise BlobTooLarge(f"more than {max_size} bytes")
                spool.write(chunk)
            spool.flush()
            return self.put_file(key, Path(spool.name))

    def open(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as error:
            if _is_not_found(error):
                raise BlobNotFound(key) from error
            raise
        # botocore's StreamingBody is a readable io stream (read, close, context manager).
        return cast(BinaryIO, response["Body"])

    def local_path(self, key: str) -> Path:
        object_key = self._object_key(key)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=object_key)
        except ClientError as error:
            if _is_not_found(error):
                raise BlobNotFound(key) from error
            raise
        version = hashlib.sha256(f"{head['ETag']}:{head['ContentLength']}".encode()).hexdigest()[:32]
        # One folder per key, one file per version of it; the key's suffix is kept (.bim, .ifc, ...) for
        # readers that go by the extension.
        folder = self.cache_dir / hashlib.sha256(object_key.encode()).hexdigest()
        cached = folder / f"{version}{Path(key).suffix}"
        if cached.is_file():
            return cached
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, temporary_name = tempfile.mkstemp(dir=folder, prefix=".download-")
        os.close(descriptor)
        try:
            self.client.download_file(self.bucket, object_key, temporary_name, Config=self.transfer)
            # Atomic: concurrent workers downloading the same blob each rename a complete file into place.
            os.replace(temporary_name, cached)
        except BaseException:
            Path(temporary_name).unlink(missing_ok=True)
            raise
        self._forget_other_versions(folder, keep=cached)
        return cached

    @staticmethod
    def _forget_other_versions(folder: Path, keep: Path) -> None:
        """Older versions of a blob are not read again; a reader that has one open keeps its data (POSIX)."""
        for path in folder.iterdir():
            if path != keep and not path.name.startswith(".download-"):
                with contextlib.suppress(OSError):
                    path.unlink()

    def delete(self, key: str) -> None:
        # Deleting a missing object succeeds in S3, as the interface wants.
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as error:
            if _is_not_found(error):
                return False
            raise
        return True

    def _listed(self, folder: str) -> Iterator[tuple[str, int]]:
        """(key relative to the storage's prefix, size) of every object under `folder` ("" for all)."""
        base = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base + folder):
            for item in page.get("Contents", []):
                yield item["Key"].removeprefix(base), item["Size"]

    def _live_blobs(self) -> list[tuple[str, int]]:
        return [(key, size) for key, size in self._listed("") if not key.startswith(f"{SNAPSHOTS_FOLDER}/")]

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._object_key(key)} for key in batch], "Quiet": True},
            )

    def _copy(self, source: str, target: str) -> None:
        """Server-side: no byte passes through this process."""
        self.client.copy(
            {"Bucket": self.bucket, "Key": self._object_key(source)},
            self.bucket,
            self._object_key(target),
            Config=self.transfer,
        )

    @staticmethod
    def _snapshot_folder(name: str) -> str:
        return f"{SNAPSHOTS_FOLDER}/{validated_snapshot_name(name)}/"

    def delete_all(self) -> None:
        self._delete_keys([key for key, _ in self._live_blobs()])

    def save_snapshot(self, name: str) -> BlobTotals:
        # S3 has no rename: a snapshot of the same name is removed first rather than built aside.
        self.delete_snapshot(name)
        folder = self._snapshot_folder(name)
        live = self._live_blobs()
        for key, _ in live:
            self._copy(key, folder + key)
        return BlobTotals(count=len(live), size=sum(size for _, size in live))

    def restore_snapshot(self, name: str) -> None:
        # An empty snapshot leaves no object in S3: a snapshot without objects restores an empty storage.
        folder = self._snapshot_folder(name)
        saved = [key for key, _ in self._listed(folder)]
        self.delete_all()
        for key in saved:
            self._copy(key, key.removeprefix(folder))

    def delete_snapshot(self, name: str) -> None:
        self._delete_keys([key for key, _ in self._listed(self._snapshot_folder(name))])


def _is_not_found(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in NOT_FOUND_CODES
