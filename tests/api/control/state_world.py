"""A small world made through the API for the reset and snapshot tests (an iTwin, an iModel from a baseline
file, a stored file, an export connection and a queued run), and what a client lists of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from tests.api.export_world import create_connection, start_run
from tests.api.imodel_world import imodel_from_baseline, new_itwin
from twinbridge.platform.time import utc_now
from twinbridge.runs.repository import RunRepository
from twinbridge.runtime import Runtime

FILE_CONTENT = b"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n"


@dataclass(frozen=True)
class World:
    itwin_id: str
    imodel_id: str
    file_id: str
    connection_id: str
    run_id: str


async def stored_file(
    client: httpx.AsyncClient, headers: dict[str, str], itwin_id: str, content: bytes = FILE_CONTENT
) -> str:
    """A complete file in the iTwin's root folder: created, uploaded, completed."""
    root = await client.get("/storage/", params={"iTwinId": itwin_id}, headers=headers)
    folder_id = root.json()["_links"]["folder"]["href"].rsplit("/", 1)[1]
    created = await client.post(
        f"/storage/folders/{folder_id}/files", json={"displayName": "model.ifc"}, headers=headers
    )
    links = created.json()["_links"]
    await client.put(links["uploadUrl"]["href"], content=content, headers={"x-ms-blob-type": "BlockBlob"})
    completed = await client.post(links["completeUrl"]["href"], headers=headers)
    assert completed.status_code == 200, completed.text
    return str(completed.json()["file"]["id"])


async def make_world(client: httpx.AsyncClient, headers: dict[str, str], name: str = "Plant") -> World:
    itwin_id = await new_itwin(client, headers, name)
    imodel = await imodel_from_baseline(client, headers, itwin_id)
    file_id = await stored_file(client, headers, itwin_id)
    connection = await create_connection(client, headers, imodel["id"])
    run = await start_run(client, headers, connection["id"])
    assert run.status_code == 202, run.text
    return World(itwin_id, imodel["id"], file_id, connection["id"], run.headers["location"].rsplit("/", 1)[1])


async def listed(client: httpx.AsyncClient, headers: dict[str, str], world: World) -> dict[str, Any]:
    """What a client reads of the world: each answer's status and body, and the stored file's content."""
    reads = {
        "itwins": "/itwins",
        "itwin": f"/itwins/{world.itwin_id}",
        "imodels": f"/imodels?iTwinId={world.itwin_id}",
        "imodel": f"/imodels/{world.imodel_id}",
        "file": f"/storage/files/{world.file_id}",
        "connections": f"/export/connections?iModelId={world.imodel_id}",
        "connection": f"/export/connections/{world.connection_id}",
        "runs": f"/export/connections/{world.connection_id}/runs",
    }
    seen: dict[str, Any] = {}
    for name, path in reads.items():
        response = await client.get(path, headers=headers)
        seen[name] = (response.status_code, response.json())
    download = await client.get(f"/storage/files/{world.file_id}/download", headers=headers)
    if download.status_code == 302:
        content = await client.get(download.headers["location"])
        seen["content"] = (content.status_code, content.content)
    else:
        seen["content"] = (download.status_code, None)
    return seen


async def claim_for_a_worker(runtime: Runtime, run_id: str) -> None:
    """The run taken by a worker under a live lease, as when it starts executing."""
    async with runtime.database.transaction() as transaction:
        now = utc_now()
        assert await RunRepository(transaction).claim(run_id, "worker-1", now, now + timedelta(minutes=5))
