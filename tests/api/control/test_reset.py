"""POST /_twinbridge/reset: every iTwin, iModel, file, connection and run gone in one call."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.api.control.state_world import claim_for_a_worker, listed, make_world
from twinbridge.app import create_app
from twinbridge.config import Settings
from twinbridge.db.migrate import upgrade
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(control_api=True)


async def test_reset_empties_everything_a_client_lists(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    headers = auth_headers("alice")
    world = await make_world(client, headers)

    response = await client.post("/_twinbridge/reset")

    assert response.status_code == 204
    seen = await listed(client, headers, world)
    assert seen["itwins"] == (200, {"iTwins": [], "_links": seen["itwins"][1]["_links"]})
    for name in ("itwin", "imodel", "file", "connection", "runs"):
        assert seen[name][0] == 404, (name, seen[name])
    assert seen["content"][0] == 404


async def test_reset_removes_every_stored_blob(
    client: httpx.AsyncClient, auth_headers: Headers, settings: Settings
) -> None:
    await make_world(client, auth_headers("alice"))
    blobs = settings.data_dir / "blobs"
    assert any(path.is_file() for path in blobs.rglob("*"))

    await client.post("/_twinbridge/reset")

    assert [path for path in blobs.rglob("*") if path.is_file()] == []


async def test_server_is_usable_after_a_reset(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    headers = auth_headers("alice")
    await make_world(client, headers)
    await client.post("/_twinbridge/reset")

    again = await make_world(client, headers, name="Again")

    seen = await listed(client, headers, again)
    assert [itwin["displayName"] for itwin in seen["itwins"][1]["iTwins"]] == ["Again"]
    assert seen["connection"][0] == 200
    assert seen["runs"][1]["runs"][0]["id"] == again.run_id
    assert seen["content"][0] == 200


async def test_reset_of_an_empty_server_succeeds(client: httpx.AsyncClient) -> None:
    assert (await client.post("/_twinbridge/reset")).status_code == 204
    assert (await client.post("/_twinbridge/reset")).status_code == 204


async def test_reset_is_refused_while_a_worker_holds_a_run(
    client: httpx.AsyncClient, auth_headers: Headers, runtime: Runtime
) -> None:
    headers = auth_headers("alice")
    world = await make_world(client, headers)
    await claim_for_a_worker(runtime, world.run_id)

    refused = await client.post("/_twinbridge/reset")

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "RunsInProgress"
    assert [detail["target"] for detail in error["details"]] == [world.run_id]
    assert (await client.get(f"/itwins/{world.itwin_id}", headers=headers)).status_code == 200


async def test_disabled_control_api_answers_404(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(control_api=False)
    upgrade(settings)
    runtime = Runtime.create(settings)
    try:
        app = create_app(settings, runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            for method, path in [
                ("POST", "/_twinbridge/reset"),
                ("GET", "/_twinbridge/snapshots"),
                ("POST", "/_twinbridge/snapshots/world/restore"),
                ("DELETE", "/_twinbridge/snapshots/world"),
            ]:
                response = await client.request(method, path)
                assert response.status_code == 404, (method, path)
                assert response.json()["error"]["code"] == "ResourceNotFound"
            created = await client.post("/_twinbridge/snapshots", json={"name": "world"})
            assert created.status_code == 404
    finally:
        await runtime.aclose()
