from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class StorageFolder:
    """A folder of an iTwin's storage. The root folder (no parent) has an id derived from the iTwin's id,
    so that two requests that make it at once collide on the primary key instead of making two roots."""

    id: str
    itwin_id: str
    parent_id: str | None
    display_name: str
    description: str | None = None
    created_by: str | None = None
    modified_by: str | None = None
    modified_at: datetime = field(default_factory=utc_now)
    created_at: datetime = field(default_factory=utc_now)


@dataclass(slots=True)
class StorageFile:
    """A file of an iTwin's storage: "created", then "uploaded" once bytes arrive at its upload URL, then
    "complete". Only complete files are listed and downloadable.

    A complete file's content is replaced in the same three steps (update content, upload, complete): the
    new bytes wait as the pending blob, and the file keeps its current content until the update completes.
    """

    id: str
    folder_id: str
    itwin_id: str
    display_name: str
    state: str
    blob_key: str
    description: str | None = None
    size: int = 0
    sha256: str | None = None
    # The SHA-256 of the secret of the upload URL (like a SAS token), which only the response that makes the
    # URL shows; cleared once the file (or its new content) is complete.
    upload_token_hash: str | None = None
    created_by: str | None = None
    modified_by: str | None = None
    # New content uploaded to a complete file, waiting for its completion.
    pending_blob_key: str | None = None
    pending_size: int | None = None
    pending_sha256: str | None = None
    modified_at: datetime = field(default_factory=utc_now)
    created_at: datetime = field(default_factory=utc_now)
