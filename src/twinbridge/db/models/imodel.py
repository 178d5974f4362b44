from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twinbridge.db.tables import NOT_A_COLUMN
from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class IModel:
    """An iModel: a name in an iTwin and a line of immutable snapshot versions (`IModelVersion`)."""

    id: str
    itwin_id: str
    name: str
    # "notInitialized" until a baseline is accepted, then "initialized" (the iModels API's states).
    state: str
    description: str | None = None
    created_by: str | None = None
    # The pre-authorised upload of the "fromBaseline" flow: the SHA-256 of the secret in the upload URL (like
    # a SAS token), which only the create response shows; cleared once the baseline is accepted.
    baseline_upload_token_hash: str | None = None
    baseline_expected_size: int | None = None
    # The iModels API's extent, as given: {"southWest": {"latitude", "longitude"}, "northEast": {...}}.
    extent: dict[str, Any] | None = None
    horizontal_crs_id: str | None = None
    created_at: datetime = field(default_factory=utc_now)
    # Read with the iModel: when its newest changeset (a version after the baseline) was pushed.
    last_changeset_pushed_at: datetime | None = field(default=None, metadata=NOT_A_COLUMN)


@dataclass(slots=True)
class IModelVersion:
    """One snapshot file of an iModel. Index 0 is the baseline; later versions carry a changeset id.

    `id` is given by the database on insert (None before). A version read as a changeset also carries the
    id of the changeset before it and the id of the named version on it, computed by the read.
    """

    imodel_id: str
    changeset_index: int
    blob_key: str
    size: int
    sha256: str
    changeset_id: str | None = None
    description: str | None = None
    # The iModels API's synchronizationInfo of the changeset: {"taskId", "changedFiles"}.
    synchronization_info: dict[str, Any] | None = None
    created_by: str | None = None
    created_at: datetime = field(default_factory=utc_now)
    id: int | None = None
    parent_changeset_id: str | None = field(default=None, metadata=NOT_A_COLUMN)
    named_version_id: str | None = field(default=None, metadata=NOT_A_COLUMN)


@dataclass(slots=True)
class IModelUploadBlock:
    """A block of a block upload (Put Block) of a baseline file, waiting for the Put Block List."""

    imodel_id: str
    block_key: str
    size: int
    created_at: datetime = field(default_factory=utc_now)
