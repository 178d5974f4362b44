"""Reads of the Export API as polling clients see them: current after every commit, paged, limited, counted.

These behaviours were checked against a second read path once; there is one path now, and this checks it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable

import httpx
import pytest

from tests.api.export_world import World, create_connection, start_run
from tests.api.export_world import world as world  # the fixture
from twinbridge.app import create_app
from twinbridge.config import Settings
from twinbridge.itwins.service import ITwinService
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]


async def test_a_read_sees_every_commit_at_once(
    client: httpx.AsyncClient, runtime: Runtime, auth_headers: Headers, world: World
) -> None:
    alice, rita = auth_headers("alice"), auth_headers("rita")
    connection = await create_connection(client, alice, world.imodel_id)
    url = f"/export/connections/{connection['id']}"
    assert "lastRun" not in (await client.get(url, headers=rita)).json()["connection"]["_links"]
    created = await start_run(client, alice, connection["id"])
    last_run = (await client.get(url, headers=rita)).json()["connection"]["_links"]["lastRun"]["href"]
    assert last_run == created.headers["location"]
    async with runtime.database.transaction() as transaction:
        await ITwinService(transaction).remove_member(world.itwin_id, "rita")
    forbidden = await client.get(url, headers=rita)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "InsufficientPermissions"
    listed = await client.get("/export/connections", params={"imodelId": world.imodel_id}, headers=rita)
    assert listed.status_code == 403


async def test_the_connection_list_pages_with_links_and_keeps_names_as_given(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    names = ["Ünïcödé 1", "二", 'three "quoted"']
    for name in names:
        await create_connection(client, auth_headers("alice"), world.imodel_id, displayName=name)
    headers = auth_headers("rita")
    seen = []
    url: str | None = f"/export/connections?imodelId={world.imodel_id}&$top=2&other=kept"
    while url is not None:
        page = (await client.get(url, headers=headers)).json()
        seen += [connection["displayName"] for connection in page["connections"]]
        assert "other=kept" in page["_links"]["self"]["href"]
        url = page["_links"].get("next", {}).get("href")
    assert seen == names
    beyond = await client.get(
        "/export/connections", params={"imodelId": world.imodel_id, "$skip": "5"}, headers=headers
    )
    assert beyond.json()["connections"] == []
    assert "next" not in beyond.json()["_links"]


async def test_reads_go_on_while_another_process_holds_the_write_lock(
    client: httpx.AsyncClient, runtime: Runtime, auth_headers: Headers, world: World
) -> None:
    if not runtime.settings.is_sqlite:
        pytest.skip("the write lock of another process is SQLite's")
    headers = auth_headers("alice")
    connection = await create_connection(client, headers, world.imodel_id)
    other_process = sqlite3.connect(runtime.settings.sqlite_path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        read = await asyncio.wait_for(
            client.get(f"/export/connections/{connection['id']}", headers=headers), 5
        )
        assert read.status_code == 200
        assert read.json()["connection"]["id"] == connection["id"]
        write = asyncio.create_task(create_connection(client, headers, world.imodel_id))
        await asyncio.sleep(0.2)
        assert not write.done()  # it waits for the lock, on the event loop
        health = await asyncio.wait_for(client.get("/health"), 5)  # which goes on serving meanwhile
        assert health.status_code == 200
    finally:
        other_process.execute("COMMIT")
        other_process.close()
    assert (await asyncio.wait_for(write, 10))["iModelId"] == world.imodel_id


async def test_reads_count_against_the_rate_limit_and_the_429_says_when_to_retry(
    make_settings: Callable[..., Settings], auth_headers: Headers, world: World
) -> None:
    limited = Runtime.create(make_settings(rate_limit="3/minute"))
    transport = httpx.ASGITransport(app=create_app(limited.settings, limited))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=limited.settings.base_url) as client:
            headers = auth_headers("alice")  # the same issuer and key: the data dir is the same
            params = {"imodelId": world.imodel_id}
            statuses = [
                (await client.get("/export/connections", params=params, headers=headers)).status_code
                for _ in range(4)
            ]
            assert statuses == [200, 200, 200, 429]
            refused = await client.get("/export/connections", params=params, headers=headers)
            assert refused.json()["error"]["code"] == "TooManyRequests"
            assert int(refused.headers["retry-after"]) >= 1
    finally:
        await limited.aclose()


async def test_requests_are_counted_under_their_route_template(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    headers = auth_headers("alice")
    connection = await create_connection(client, headers, world.imodel_id)
    for _ in range(3):
        await client.get(f"/export/connections/{connection['id']}", headers=headers)
    metrics = (await client.get("/metrics")).text
    labels = 'method="GET",route="/export/connections/{connection_id}",status="200"'
    assert f"twinbridge_http_requests_total{{{labels}}} 3.0" in metrics
