"""An iTwin with an iModel and its members, shared by the Export API tests, and the two calls they repeat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE_IMODELS
from twinbridge.auth.grants import GrantService
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.runtime import Runtime


@dataclass
class World:
    itwin_id: str
    imodel_id: str


@pytest.fixture
async def world(runtime: Runtime) -> World:
    """alice owns an iTwin with the Building Blocks iModel; rita is a Reader there."""
    async with runtime.database.transaction() as transaction:
        itwins = ITwinService(transaction)
        itwin = await itwins.create("Plant", "alice")
        await itwins.set_member(itwin.id, "rita", "Reader")  # type: ignore[arg-type]
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, SAMPLE_IMODELS / "Building Blocks.bim", "Blocks", None, caller=None
        )
        await GrantService(transaction).grant("alice")
        return World(itwin.id, imported.imodel.id)


async def create_connection(
    client: httpx.AsyncClient, headers: dict[str, str], imodel_id: str, **extra: Any
) -> dict:
    response = await client.post(
        "/export/connections", json={"iModelId": imodel_id, **extra}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["connection"])


async def start_run(
    client: httpx.AsyncClient, headers: dict[str, str], connection_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/export/connections/{connection_id}/runs", json={"exportType": "IFC", **body}, headers=headers
    )
