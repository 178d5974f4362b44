"""What the iModels API tests start from: an iTwin, iModels made through the API, versions as synchronization
adds them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import SAMPLE_IMODELS
from twinbridge.db.models import IModelVersion
from twinbridge.imodels.service import IModelService
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]
BLOCKS = SAMPLE_IMODELS / "Building Blocks.bim"
SEED = SAMPLE_IMODELS / "CompatibilityTestSeed.bim"
PROPERTIES = SAMPLE_IMODELS / "Properties_60InstancesWithUrl2.ibim"


async def new_itwin(client: httpx.AsyncClient, headers: dict[str, str], name: str = "Plant") -> str:
    response = await client.post("/itwins", json={"displayName": name}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["iTwin"]["id"])


async def start_baseline(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    itwin_id: str,
    size: int,
    name: str = "Blocks",
    **properties: Any,
) -> dict[str, Any]:
    """Step 1 of createFromBaseline as iTwin.js sends it: no creationMode, a baselineFile size."""
    response = await client.post(
        "/imodels",
        json={"iTwinId": itwin_id, "name": name, "baselineFile": {"size": size}, **properties},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["iModel"])


async def upload_and_complete(
    client: httpx.AsyncClient, headers: dict[str, str], imodel: dict[str, Any], content: bytes
) -> httpx.Response:
    # No Authorization: the URL authorizes, like an Azure SAS URL.
    upload = await client.put(
        imodel["_links"]["upload"]["href"], content=content, headers={"x-ms-blob-type": "BlockBlob"}
    )
    assert upload.status_code == 201, upload.text
    return await client.post(imodel["_links"]["complete"]["href"], json={}, headers=headers)


async def imodel_from_baseline(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    itwin_id: str,
    source: Path = BLOCKS,
    name: str = "Blocks",
    **properties: Any,
) -> dict[str, Any]:
    """An initialized iModel whose baseline is `source`, made by the three steps of createFromBaseline."""
    content = await asyncio.to_thread(source.read_bytes)
    imodel = await start_baseline(client, headers, itwin_id, len(content), name, **properties)
    completed = await upload_and_complete(client, headers, imodel, content)
    assert completed.status_code == 200, completed.text
    fetched = await client.get(f"/imodels/{imodel['id']}", headers=headers)
    return dict(fetched.json()["iModel"])


async def add_versions(runtime: Runtime, imodel_id: str, sources: list[Path]) -> list[IModelVersion]:
    """New versions, one per file, as synchronization runs write them (changesets 1, 2, ...)."""
    versions = []
    for source in sources:
        async with runtime.database.transaction() as transaction:
            versions.append(
                await IModelService(transaction, runtime.blobs).add_version(imodel_id, source, "alice")
            )
    return versions


def blob_files(runtime: Runtime) -> list[Path]:
    root = runtime.settings.data_dir / "blobs"
    return sorted(path for path in root.rglob("*") if path.is_file())
