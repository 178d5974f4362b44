"""/_twinbridge/snapshots: the whole state saved under a name and put back (database rows and blobs)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.api.control.state_world import FILE_CONTENT, claim_for_a_worker, listed, make_world, stored_file
from tests.s3_server import create_bucket, s3_endpoint
from twinbridge.app import create_app
from twinbridge.config import Settings
from twinbridge.db.migrate import upgrade
from twinbridge.runtime import Runtime

__all__ = ["s3_endpoint"]  # the session fixture of a moto server, for the S3 test below

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(control_api=True)


async def _snapshot(client: httpx.AsyncClient, name: str) -> dict:
    response = await client.post("/_twinbridge/snapshots", json={"name": name})
    assert response.status_code == 201, response.text
    return dict(response.json()["snapshot"])


async def test_restore_brings_back_exactly_what_was_listed(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    headers = auth_headers("alice")
    world = await make_world(client, headers)
    before = await listed(client, headers, world)
    await _snapshot(client, "world")

    # Changed after the snapshot: a file's content replaced, a connection deleted, another iTwin made.
    file_links = await client.post(f"/storage/files/{world.file_id}/updatecontent", headers=headers)
    await client.put(
        file_links.json()["_links"]["uploadUrl"]["href"],
        content=b"changed",
        headers={"x-ms-blob-type": "BlockBlob"},
    )
    await client.post(file_links.json()["_links"]["completeUrl"]["href"], headers=headers)
    await client.delete(f"/export/connections/{world.connection_id}", headers=headers)
    await client.post("/itwins", json={"displayName": "Later"}, headers=headers)
    assert await listed(client, headers, world) != before

    restored = await client.post("/_twinbridge/snapshots/world/restore")

    assert restored.status_code == 204
    assert await listed(client, headers, world) == before


async def test_restore_after_a_reset_brings_the_world_back(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    headers = auth_headers("alice")
    world = await make_world(client, headers)
    before = await listed(client, headers, world)
    await _snapshot(client, "world")
    await client.post("/_twinbridge/reset")

    await client.post("/_twinbridge/snapshots/world/restore")

    after = await listed(client, headers, world)
    assert after == before
    assert after["content"][0] == 200


async def test_server_goes_on_after_a_restore(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    headers = auth_headers("alice")
    world = await make_world(client, headers)
    await _snapshot(client, "world")
    await client.post("/_twinbridge/snapshots/world/restore")

    second_file = await stored_file(client, headers, world.itwin_id, content=b"second")
    other = await make_world(client, headers, name="Other")

    seen = await listed(client, headers, other)
    assert [itwin["displayName"] for itwin in seen["itwins"][1]["iTwins"]] == ["Plant", "Other"]
    assert (await client.get(f"/storage/files/{second_file}", headers=headers)).status_code == 200


async def test_created_snapshot_describes_what_it_holds_and_is_listed(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    await make_world(client, auth_headers("alice"))

    created = await _snapshot(client, "world-1")

    assert created["name"] == "world-1"
    assert created["createdAt"].endswith("Z")
    assert created["tables"]["itwins"] == 1
    assert created["tables"]["imodels"] == 1
    assert created["tables"]["storage_files"] == 1
    assert created["tables"]["export_connections"] == 1
    assert created["tables"]["runs"] == 1
    assert created["rows"] == sum(created["tables"].values())
    assert created["blobs"] >= 2  # the iModel's baseline and the stored file
    assert created["blobBytes"] > 0
    empty = await _snapshot(client, "later")
    listed_snapshots = await client.get("/_twinbridge/snapshots")
    assert listed_snapshots.status_code == 200
    assert listed_snapshots.json() == {"snapshots": [created, empty]}


async def test_snapshots_are_not_wiped_by_a_reset(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    await make_world(client, auth_headers("alice"))
    created = await _snapshot(client, "world")

    await client.post("/_twinbridge/reset")

    assert (await client.get("/_twinbridge/snapshots")).json() == {"snapshots": [created]}


async def test_deleted_snapshot_is_gone(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    await make_world(client, auth_headers("alice"))
    await _snapshot(client, "world")

    deleted = await client.delete("/_twinbridge/snapshots/world")

    assert deleted.status_code == 204
    assert (await client.get("/_twinbridge/snapshots")).json() == {"snapshots": []}
    restored = await client.post("/_twinbridge/snapshots/world/restore")
    assert restored.status_code == 404
    assert restored.json()["error"]["code"] == "SnapshotNotFound"
    # The name is free again.
    await _snapshot(client, "world")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/_twinbridge/snapshots/unknown/restore"), ("DELETE", "/_twinbridge/snapshots/unknown")],
)
async def test_unknown_snapshot_is_not_found(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "SnapshotNotFound"


async def test_duplicate_name_is_a_conflict(client: httpx.AsyncClient) -> None:
    first = await _snapshot(client, "world")

    again = await client.post("/_twinbridge/snapshots", json={"name": "world"})

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "SnapshotAlreadyExists"
    assert again.json()["error"]["target"] == "name"
    assert (await client.get("/_twinbridge/snapshots")).json() == {"snapshots": [first]}


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": ".hidden"}, {"name": "a/b"}, {"name": "x" * 101}, {"name": 3}]
)
async def test_bad_name_is_422_naming_the_field(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post("/_twinbridge/snapshots", json=body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "InvalidSnapshotRequest"
    assert [detail["target"] for detail in error["details"]] == ["name"]
    assert (await client.get("/_twinbridge/snapshots")).json() == {"snapshots": []}


async def test_bad_name_in_the_path_is_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/_twinbridge/snapshots/.hidden/restore")

    assert response.status_code == 422
    assert [detail["target"] for detail in response.json()["error"]["details"]] == ["name"]


async def test_snapshots_outlive_a_restart_of_the_server(
    client: httpx.AsyncClient, auth_headers: Headers, settings: Settings
) -> None:
    headers = auth_headers("alice")
    world = await make_world(client, headers)
    before = await listed(client, headers, world)
    created = await _snapshot(client, "world")
    await client.post("/_twinbridge/reset")

    restarted = Runtime.create(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, restarted))
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as again:
            assert (await again.get("/_twinbridge/snapshots")).json() == {"snapshots": [created]}
            assert (await again.post("/_twinbridge/snapshots/world/restore")).status_code == 204
            assert await listed(again, headers, world) == before
    finally:
        await restarted.aclose()


async def test_reset_and_restore_on_s3_storage(
    make_settings: Callable[..., Settings], s3_endpoint: str
) -> None:
    bucket = create_bucket(s3_endpoint)
    settings = make_settings(control_api=True, storage_url=f"s3://{bucket}/blobs?endpoint_url={s3_endpoint}")
    upgrade(settings)
    runtime = Runtime.create(settings)
    try:
        minted = runtime.issuer.mint(subject="alice", kind="user", scopes=["itwin-platform"], ttl=600)
        headers = {"Authorization": f"Bearer {minted.access_token}"}
        transport = httpx.ASGITransport(app=create_app(settings, runtime))
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            world = await make_world(client, headers)
            before = await listed(client, headers, world)
            await _snapshot(client, "world")

            await client.post("/_twinbridge/reset")
            assert (await listed(client, headers, world))["content"][0] == 404
            await client.post("/_twinbridge/snapshots/world/restore")

            assert await listed(client, headers, world) == before
            assert before["content"] == (200, FILE_CONTENT)
    finally:
        await runtime.aclose()


async def test_saving_and_restoring_are_refused_while_a_worker_holds_a_run(
    client: httpx.AsyncClient, auth_headers: Headers, runtime: Runtime
) -> None:
    headers = auth_headers("alice")
    world = await make_world(client, headers)
    created = await _snapshot(client, "world")
    await claim_for_a_worker(runtime, world.run_id)
    await client.post("/itwins", json={"displayName": "Later"}, headers=headers)
    before = await listed(client, headers, world)

    saving = await client.post("/_twinbridge/snapshots", json={"name": "other"})
    restoring = await client.post("/_twinbridge/snapshots/world/restore")

    for refused in (saving, restoring):
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "RunsInProgress"
        assert [detail["target"] for detail in refused.json()["error"]["details"]] == [world.run_id]
    assert (await client.get("/_twinbridge/snapshots")).json() == {"snapshots": [created]}
    assert await listed(client, headers, world) == before
