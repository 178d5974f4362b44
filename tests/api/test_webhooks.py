"""The Webhooks API (subscriptions at /webhooks), the outbox written when a run completes, and the sending
of deliveries to a real HTTP receiver on loopback, in-process."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import EMPTY_IMODEL
from tests.file_server import FileServer
from tests.file_server import file_server as file_server  # the fixture
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.outbound import OutboundClient
from twinbridge.runs.repository import RunRepository
from twinbridge.runs.service import finish
from twinbridge.runs.states import ExecutionResult
from twinbridge.runtime import Runtime
from twinbridge.webhooks.delivery import WebhookSender

Headers = Callable[..., dict[str, str]]
SECRET = "s" * 32
EXPORT_EVENT = "export.runCompleted.v1"
SYNC_EVENT = "synchronization.jobCompleted.v1"


@dataclasses.dataclass
class World:
    itwin_id: str
    imodel_id: str
    connection_id: str


@pytest.fixture
async def world(runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers) -> World:
    """An iTwin of alice (owner) with rita (Reader), an iModel and an export connection."""
    async with runtime.database.transaction() as transaction:
        itwins = ITwinService(transaction)
        itwin = await itwins.create("Plant", "alice")
        await itwins.set_member(itwin.id, "rita", "Reader")  # type: ignore[arg-type]
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, EMPTY_IMODEL, "Empty", None, caller=None
        )
    created = await client.post(
        "/export/connections", json={"iModelId": imported.imodel.id}, headers=auth_headers("alice")
    )
    assert created.status_code == 201, created.text
    return World(itwin.id, imported.imodel.id, created.json()["connection"]["id"])


def _body(world: World, **overrides: Any) -> dict[str, Any]:
    return {
        "callbackUrl": "https://hooks.example.com/twinbridge",
        "scope": "iTwin",
        "scopeId": world.itwin_id,
        "secret": SECRET,
        "eventTypes": [EXPORT_EVENT],
        **overrides,
    }


async def _create(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/webhooks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    webhook: dict[str, Any] = response.json()["webhook"]
    return webhook


async def _activate(client: httpx.AsyncClient, headers: dict[str, str], webhook_id: str) -> None:
    response = await client.patch(f"/webhooks/{webhook_id}", json={"active": True}, headers=headers)
    assert response.status_code == 200, response.text


async def _complete_export_run(
    runtime: Runtime, client: httpx.AsyncClient, headers: dict[str, str], world: World
) -> str:
    """Starts an export run over HTTP and completes it as a worker does (finish, then save)."""
    started = await client.post(
        f"/export/connections/{world.connection_id}/runs", json={"exportType": "IFC"}, headers=headers
    )
    assert started.status_code == 202, started.text
    run_id = started.headers["location"].rsplit("/", 1)[1]
    async with runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        assert run is not None
        finish(run, ExecutionResult.SUCCESS)
        await runs.save(run)
    return run_id


async def _deliveries(client: httpx.AsyncClient, headers: dict[str, str], webhook_id: str) -> list[Any]:
    response = await client.get(f"/webhooks/{webhook_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    deliveries: list[Any] = response.json()["deliveries"]
    return deliveries


# The subscription operations


async def test_a_webhook_is_created_inactive_and_shows_its_secret_only_when_created(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    created = await _create(client, alice, _body(world))
    assert created["active"] is False
    assert created["secret"] == SECRET
    assert (created["scope"], created["scopeId"]) == ("iTwin", world.itwin_id)
    assert created["callbackUrl"] == "https://hooks.example.com/twinbridge"
    assert created["eventTypes"] == [EXPORT_EVENT]
    assert created["created"].endswith("Z")
    assert created["modified"].endswith("Z")

    fetched = await client.get(f"/webhooks/{created['id']}", headers=alice)
    assert fetched.status_code == 200
    assert fetched.json()["webhook"] == {key: value for key, value in created.items() if key != "secret"}


async def test_a_webhook_without_a_secret_gets_a_generated_one(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    body = _body(world)
    del body["secret"]
    created = await _create(client, auth_headers("alice"), body)
    assert len(created["secret"]) == 64
    int(created["secret"], 16)


async def test_update_activates_a_webhook_and_changes_only_what_is_given(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    created = await _create(client, alice, _body(world))
    response = await client.patch(
        f"/webhooks/{created['id']}",
        json={"active": True, "eventTypes": [SYNC_EVENT, EXPORT_EVENT, SYNC_EVENT]},
        headers=alice,
    )
    assert response.status_code == 200, response.text
    updated = response.json()["webhook"]
    assert updated["active"] is True
    assert updated["eventTypes"] == [SYNC_EVENT, EXPORT_EVENT]
    assert updated["callbackUrl"] == created["callbackUrl"]
    assert "secret" not in updated
    fetched = (await client.get(f"/webhooks/{created['id']}", headers=alice)).json()["webhook"]
    assert fetched == updated


async def test_list_shows_the_callers_own_webhooks_page_by_page(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    ids = [(await _create(client, alice, _body(world)))["id"] for _ in range(3)]
    await _create(client, auth_headers("bob"), _body(world, scope="Account", scopeId=None))

    first = (await client.get("/webhooks?$top=2", headers=alice)).json()
    assert [webhook["id"] for webhook in first["webhooks"]] == ids[:2]
    assert first["_links"]["next"]["href"] == "http://twinbridge.test/webhooks?$skip=2&$top=2"
    second = (await client.get(first["_links"]["next"]["href"], headers=alice)).json()
    assert [webhook["id"] for webhook in second["webhooks"]] == ids[2:]
    assert "next" not in second["_links"]


async def test_delete_removes_a_webhook(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    created = await _create(client, alice, _body(world))
    deleted = await client.delete(f"/webhooks/{created['id']}", headers=alice)
    assert deleted.status_code == 204
    missing = await client.get(f"/webhooks/{created['id']}", headers=alice)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "WebhookNotFound"
    assert (await client.get("/webhooks", headers=alice)).json()["webhooks"] == []


@pytest.mark.parametrize(
    ("method", "body"), [("GET", None), ("PATCH", {"active": True}), ("DELETE", None), ("GET", "deliveries")]
)
async def test_another_callers_webhook_is_not_found(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, method: str, body: Any
) -> None:
    created = await _create(client, auth_headers("alice"), _body(world))
    path = f"/webhooks/{created['id']}" + ("/deliveries" if body == "deliveries" else "")
    response = await client.request(
        method, path, json=body if isinstance(body, dict) else None, headers=auth_headers("rita")
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "WebhookNotFound"


# Bad input: 422 naming the field


@pytest.mark.parametrize(
    ("change", "target"),
    [
        ({"secret": "s" * 31}, "secret"),
        ({"callbackUrl": "ftp://hooks.example.com/x"}, "callbackUrl"),
        ({"callbackUrl": None}, "callbackUrl"),
        ({"scope": "Organization"}, "scope"),
        ({"eventTypes": []}, "eventTypes"),
        ({"eventTypes": ["iModels.iModelDeleted.v1"]}, "eventTypes[0]"),
        ({"scopeId": None}, "scopeId"),
        ({"scopeId": "00000000-0000-0000-0000-000000000000"}, "scopeId"),
    ],
)
async def test_a_bad_create_is_422_naming_the_field(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, change: dict[str, Any], target: str
) -> None:
    body = {key: value for key, value in _body(world, **change).items() if value is not None}
    response = await client.post("/webhooks", json=body, headers=auth_headers("alice"))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidWebhookRequest"
    assert [detail["target"] for detail in error["details"]] == [target]


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"active": None}, "active"),
        ({"secret": "short"}, "secret"),
        ({"eventTypes": ["nothing.v1"]}, "eventTypes[0]"),
        ({"callbackUrl": "not a url"}, "callbackUrl"),
    ],
)
async def test_a_bad_update_is_422_naming_the_field(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, body: dict[str, Any], target: str
) -> None:
    alice = auth_headers("alice")
    created = await _create(client, alice, _body(world))
    response = await client.patch(f"/webhooks/{created['id']}", json=body, headers=alice)
    assert response.status_code == 422, response.text
    assert [detail["target"] for detail in response.json()["error"]["details"]] == [target]
    unchanged = (await client.get(f"/webhooks/{created['id']}", headers=alice)).json()["webhook"]
    assert unchanged["active"] is False


# Permissions and scopes


async def test_an_itwin_webhook_needs_contributor_or_owner(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    for subject in ("rita", "stranger"):
        response = await client.post("/webhooks", json=_body(world), headers=auth_headers(subject))
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "InsufficientPermissions"


async def test_webhook_scopes_grant_reads_and_writes(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    reader = auth_headers("alice", scopes="webhooks:read")
    assert (await client.get("/webhooks", headers=reader)).status_code == 200
    refused = await client.post("/webhooks", json=_body(world), headers=reader)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "RequiredScopeMissing"
    writer = auth_headers("alice", scopes="webhooks:modify")
    assert (await client.post("/webhooks", json=_body(world), headers=writer)).status_code == 201
    other_api = auth_headers("alice", scopes="export:read")
    assert (await client.get("/webhooks", headers=other_api)).status_code == 401


# The outbox: deliveries recorded when a run completes


async def test_a_completed_run_records_a_delivery_for_each_active_subscribed_webhook(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    active = await _create(client, alice, _body(world))
    await _activate(client, alice, active["id"])
    inactive = await _create(client, alice, _body(world))
    other_event = await _create(client, alice, _body(world, eventTypes=[SYNC_EVENT]))
    await _activate(client, alice, other_event["id"])
    account = await _create(client, alice, _body(world, scope="Account"))
    await _activate(client, alice, account["id"])

    run_id = await _complete_export_run(runtime, client, alice, world)

    assert await _deliveries(client, alice, inactive["id"]) == []
    assert await _deliveries(client, alice, other_event["id"]) == []
    assert len(await _deliveries(client, alice, account["id"])) == 1
    [delivery] = await _deliveries(client, alice, active["id"])
    assert (delivery["state"], delivery["eventType"], delivery["runId"]) == ("Pending", EXPORT_EVENT, run_id)
    assert delivery["attempts"] == []
    event = delivery["event"]
    assert event["content"] == {
        "runId": run_id,
        "iModelId": world.imodel_id,
        "connectionId": world.connection_id,
        "result": "success",
        "exportOutputFileId": None,
    }
    assert (event["eventType"], event["iTwinId"], event["webhookId"]) == (
        EXPORT_EVENT,
        world.itwin_id,
        active["id"],
    )
    assert event["messageId"] == delivery["id"]


async def test_a_completed_synchronization_run_records_upstreams_event(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    webhook = await _create(client, alice, _body(world, eventTypes=[SYNC_EVENT]))
    await _activate(client, alice, webhook["id"])
    manifest = "/synchronization/imodels/manifestconnections"
    body = {"iModelId": world.imodel_id, "sourceFiles": [{"sourceFileId": "doc"}]}
    connection_id = (await client.post(manifest, json=body, headers=alice)).json()["connection"]["id"]
    files = [{"id": "doc", "url": "https://files.example.com/doc.ifc", "connectorType": "IFC"}]
    started = await client.post(
        f"{manifest}/{connection_id}/runs", json={"sourceFiles": files}, headers=alice
    )
    assert started.status_code == 202, started.text
    run_id = started.headers["location"].rsplit("/", 1)[1]
    async with runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        assert run is not None
        finish(run, ExecutionResult.PARTIAL_SUCCESS)
        await runs.save(run)

    [delivery] = await _deliveries(client, alice, webhook["id"])
    assert delivery["eventType"] == SYNC_EVENT
    assert delivery["event"]["content"] == {
        "synchronizationId": run_id,
        "iModelId": world.imodel_id,
        "connectionId": connection_id,
        "result": "partialSuccess",
    }
    assert delivery["event"]["iTwinId"] == world.itwin_id


async def test_saving_a_completed_run_again_records_no_second_delivery(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    webhook = await _create(client, alice, _body(world))
    await _activate(client, alice, webhook["id"])
    run_id = await _complete_export_run(runtime, client, alice, world)
    async with runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        assert run is not None
        await runs.save(run)
    assert len(await _deliveries(client, alice, webhook["id"])) == 1


# Sending: signed POSTs to a real receiver, retries, refusals


def _sender(runtime: Runtime, **settings: Any) -> WebhookSender:
    changed = runtime.settings.model_copy(update=settings)
    return WebhookSender(
        dataclasses.replace(runtime, settings=changed, outbound=OutboundClient.from_settings(changed))
    )


async def _event_for(
    runtime: Runtime, client: httpx.AsyncClient, headers: dict[str, str], world: World, callback_url: str
) -> dict[str, Any]:
    """An active webhook of `callback_url`, and a completed export run: one delivery to send."""
    webhook = await _create(client, headers, _body(world, callbackUrl=callback_url))
    await _activate(client, headers, webhook["id"])
    await _complete_export_run(runtime, client, headers, world)
    return webhook


async def _send_once_due(sender: WebhookSender) -> None:
    for _ in range(500):
        if await sender.send_due():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no delivery became due")


async def test_a_delivery_is_signed_and_retried_until_the_receiver_accepts_it(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, world: World, file_server: FileServer
) -> None:
    alice = auth_headers("alice")
    webhook = await _event_for(runtime, client, alice, world, f"{file_server.url}/events")
    file_server.post_statuses = [500]
    sender = _sender(runtime, fetch_allow_private=True, webhook_retry_base=0.05)

    assert await sender.send_due() == 1
    [delivery] = await _deliveries(client, alice, webhook["id"])
    assert delivery["state"] == "Pending"
    assert [(attempt["number"], attempt["status"], attempt["error"]) for attempt in delivery["attempts"]] == [
        (1, 500, "HTTP 500")
    ]
    await _send_once_due(sender)  # due again after the backoff
    [delivery] = await _deliveries(client, alice, webhook["id"])
    assert delivery["state"] == "Delivered"
    assert [(attempt["number"], attempt["status"]) for attempt in delivery["attempts"]] == [
        (1, 500),
        (2, 200),
    ]
    assert delivery["completedDateTime"] is not None

    assert len(file_server.posts) == 2
    first, second = file_server.posts
    assert first.body == second.body
    assert json.loads(second.body) == delivery["event"]
    expected = "sha256=" + hmac.new(SECRET.encode(), second.body, hashlib.sha256).hexdigest()
    assert second.headers["signature"] == expected
    assert second.headers["content-type"] == "application/json"


async def test_a_delivery_fails_after_the_last_attempt(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, world: World, file_server: FileServer
) -> None:
    alice = auth_headers("alice")
    webhook = await _event_for(runtime, client, alice, world, f"{file_server.url}/events")
    file_server.post_statuses = [503, 503]
    sender = _sender(runtime, fetch_allow_private=True, webhook_retry_base=0.01, webhook_max_attempts=2)
    await _send_once_due(sender)
    await _send_once_due(sender)
    [delivery] = await _deliveries(client, alice, webhook["id"])
    assert delivery["state"] == "Failed"
    assert [attempt["status"] for attempt in delivery["attempts"]] == [503, 503]
    assert await sender.send_due() == 0


async def test_a_loopback_callback_is_refused_without_allow_private_and_recorded(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, world: World, file_server: FileServer
) -> None:
    alice = auth_headers("alice")
    webhook = await _event_for(runtime, client, alice, world, f"{file_server.url}/events")

    assert await WebhookSender(runtime).send_due() == 1

    assert file_server.posts == []
    [delivery] = await _deliveries(client, alice, webhook["id"])
    assert delivery["state"] == "Failed"
    [attempt] = delivery["attempts"]
    assert attempt["status"] is None
    assert "127.0.0.1" in attempt["error"]
    assert "TWINBRIDGE_FETCH_ALLOW_PRIVATE" in attempt["error"]
