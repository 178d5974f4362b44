"""What goes with a deleted iModel besides its own rows and blobs: the blobs other features keep for it.

The iModels feature does not know who else keeps blobs for an iModel (a synchronization run's diagnostic
reports do); those features register here through `twinbridge.features`. The rows go by ON DELETE CASCADE
with the iModel; their blobs are removed by the deleting service after the commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from twinbridge.db.database import Transaction

BlobKeysOfIModel = Callable[[Transaction, str], Awaitable[list[str]]]

_owners: list[BlobKeysOfIModel] = []


def on_imodel_deleted(blob_keys: BlobKeysOfIModel) -> None:
    """Registers, for this process, a function giving the blobs a feature keeps for an iModel (registering
    it again changes nothing)."""
    if blob_keys not in _owners:
        _owners.append(blob_keys)


async def blob_keys_kept_for(transaction: Transaction, imodel_id: str) -> list[str]:
    keys: list[str] = []
    for blob_keys in _owners:
        keys += await blob_keys(transaction, imodel_id)
    return keys
