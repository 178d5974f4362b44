"""Which blob storage TWINBRIDGE_STORAGE_URL names: local files or an S3-compatible bucket."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlparse

from twinbridge.storage.blobs import BlobStorage, LocalBlobStorage


def create_blob_storage(storage_url: str, cache_dir: Path | None = None) -> BlobStorage:
    """The storage of TWINBRIDGE_STORAGE_URL; `cache_dir` keeps local copies of remote blobs."""
    parsed = urlparse(storage_url)
    if parsed.scheme == "file":
        return LocalBlobStorage(Path(parsed.path))
    if parsed.scheme == "s3":
        # Imported here: boto3 is loaded only by processes configured for S3.
        from twinbridge.storage.s3 import S3BlobStorage

        return S3BlobStorage.from_url(
            storage_url, cache_dir or Path(tempfile.gettempdir()) / "twinbridge-blob-cache"
        )
    raise ValueError(f"TWINBRIDGE_STORAGE_URL {storage_url!r}: only file:// and s3:// storage are available")
