from __future__ import annotations

from typing import Any

import pytest

from twinbridge.imodels import deletion


@pytest.fixture
def owners(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    registered: list[Any] = []
    monkeypatch.setattr(deletion, "_owners", registered)
    return registered


async def test_blob_keys_kept_for_an_imodel_come_from_each_registered_feature_once(
    owners: list[Any],
) -> None:
    async def reports(transaction: Any, imodel_id: str) -> list[str]:
        return [f"reports/{imodel_id}/a.json"]

    async def exports(transaction: Any, imodel_id: str) -> list[str]:
        return [f"exports/{imodel_id}/b.ifc"]

    deletion.on_imodel_deleted(reports)
    deletion.on_imodel_deleted(exports)
    deletion.on_imodel_deleted(reports)

    keys = await deletion.blob_keys_kept_for(object(), "m1")  # type: ignore[arg-type]

    assert keys == ["reports/m1/a.json", "exports/m1/b.ifc"]


async def test_no_registered_feature_keeps_no_blobs(owners: list[Any]) -> None:
    assert await deletion.blob_keys_kept_for(object(), "m1") == []  # type: ignore[arg-type]
