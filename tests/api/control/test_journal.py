"""The request journal of the control API, in process: what a test reads of the requests its client sent."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.api.control.in_process import in_process_client
from twinbridge.config import Settings

JOURNAL = "/_twinbridge/journal"
Headers = Callable[..., dict[str, str]]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(control_api=True)


async def _entries(client: httpx.AsyncClient, **filters: Any) -> list[dict[str, Any]]:
    response = await client.get(JOURNAL, params=filters)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


async def test_each_request_is_journaled_newest_first_with_what_was_asked_and_answered(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    created = await client.post("/itwins", json={"displayName": "Plant"}, headers=auth_headers("alice"))
    itwin_id = created.json()["iTwin"]["id"]
    await client.get("/itwins", params={"$top": "5"}, headers=auth_headers("alice"))
    await client.get("/itwins/no-such-itwin", headers=auth_headers("bob"))

    missing, listed, creation = await _entries(client)

    assert missing == {
        "sequence": 3,
        "timestamp": missing["timestamp"],
        "method": "GET",
        "path": "/itwins/no-such-itwin",
        "query": "",
        "operationId": "get_itwin_itwins__itwin_id__get",
        "status": 404,
        "errorCode": "iTwinNotFound",
        "caller": "bob",
        "durationMs": missing["durationMs"],
        "faultIds": [],
        "answeredByFault": False,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", missing["timestamp"])
    assert isinstance(missing["durationMs"], float)
    assert missing["durationMs"] >= 0
    assert (listed["operationId"], listed["query"], listed["status"], listed["errorCode"]) == (
        "list_itwins_itwins_get",
        "%24top=5",  # as sent
        200,
        None,
    )
    assert (creation["method"], creation["status"], creation["caller"], creation["sequence"]) == (
        "POST",
        201,
        "alice",
        1,
    )
    assert "requestBody" not in creation  # bodies are kept only with TWINBRIDGE_JOURNAL_BODIES
    assert itwin_id


async def test_the_journal_filters_by_method_path_operation_status_and_caller(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    await client.post("/itwins", json={"displayName": "Plant"}, headers=auth_headers("alice"))
    await client.get("/itwins", headers=auth_headers("alice"))
    await client.get("/itwins/favorites", headers=auth_headers("bob"))
    await client.get("/itwins/unknown", headers=auth_headers("bob"))
    await client.get("/imodels", headers={"Authorization": "Bearer not-a-token"})
    await client.get("/health")

    async def paths(**filters: Any) -> list[str]:
        return [f"{entry['method']} {entry['path']}" for entry in await _entries(client, **filters)]

    assert await paths(method="post") == ["POST /itwins"]
    assert await paths(path="/itwins/") == ["GET /itwins/unknown", "GET /itwins/favorites"]
    assert await paths(path="/itwins*") == [
        "GET /itwins/unknown",
        "GET /itwins/favorites",
        "GET /itwins",
        "POST /itwins",
    ]
    assert await paths(path="/*s/un*") == ["GET /itwins/unknown"]
    assert await paths(operationId="list_itwins_itwins_get") == ["GET /itwins"]
    assert await paths(status="4xx") == ["GET /imodels", "GET /itwins/unknown"]
    assert await paths(status="401") == ["GET /imodels"]
    assert await paths(status="2xx", caller="bob") == ["GET /itwins/favorites"]
    assert await paths(caller="alice", **{"$top": 1}) == ["GET /itwins"]
    assert len(await paths(**{"$top": 2})) == 2
    unauthenticated = (await _entries(client, path="/imodels"))[0]
    assert (unauthenticated["caller"], unauthenticated["errorCode"]) == (None, "InvalidHeaderValue")


async def test_a_bad_filter_is_422_naming_it(client: httpx.AsyncClient) -> None:
    for name, value in (("status", "abc"), ("$top", "0")):
        response = await client.get(JOURNAL, params={name: value})
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "InvalidJournalRequest"
        assert [detail["target"] for detail in error["details"]] == [name]


async def test_a_request_a_fault_answered_is_journaled_with_the_rule_and_its_caller(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    headers = auth_headers("alice")
    await client.get("/itwins", headers=headers)  # validates the token once
    rule = (
        await client.post(
            "/_twinbridge/faults", json={"path": "/itwins", "action": "status", "status": 503, "code": "Down"}
        )
    ).json()["fault"]
    latency = (
        await client.post(
            "/_twinbridge/faults", json={"path": "/health", "action": "latency", "latencyMs": 1}
        )
    ).json()["fault"]

    await client.get("/itwins", headers=headers)
    await client.get("/health")

    health, faulted, _, creation, first = await _entries(client)
    assert (faulted["status"], faulted["errorCode"], faulted["caller"]) == (503, "Down", "alice")
    assert (faulted["faultIds"], faulted["answeredByFault"]) == ([rule["id"]], True)
    assert (health["status"], health["faultIds"], health["answeredByFault"]) == (200, [latency["id"]], False)
    assert (creation["path"], creation["operationId"]) == (
        "/_twinbridge/faults",
        "create_fault__twinbridge_faults_post",
    )
    assert first["faultIds"] == []


async def test_reading_and_clearing_the_journal_is_not_journaled(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    await _entries(client)
    assert [entry["path"] for entry in await _entries(client)] == ["/health"]

    assert (await client.delete(JOURNAL)).status_code == 204
    assert await _entries(client) == []
    await client.get("/health")
    (entry,) = await _entries(client)
    assert entry["sequence"] == 2  # numbering goes on after a clear


async def test_the_path_is_journaled_as_the_client_sent_it(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    await client.get("/iTwins/?iTwinId=x", headers=auth_headers("alice"))

    (entry,) = await _entries(client)
    assert (entry["path"], entry["status"]) == ("/iTwins/", 404)


@pytest.fixture
async def small_journal(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    async for client in in_process_client(make_settings(control_api=True, journal_size=2)):
        yield client


async def test_the_journal_keeps_the_last_requests_of_its_size(small_journal: httpx.AsyncClient) -> None:
    for word in ("one", "two", "three"):
        await small_journal.get(f"/{word}")

    assert [entry["path"] for entry in await _entries(small_journal)] == ["/three", "/two"]


@pytest.fixture
async def journal_with_bodies(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    async for client in in_process_client(make_settings(control_api=True, journal_bodies=True)):
        yield client


async def test_bodies_are_journaled_json_as_json_when_enabled(
    journal_with_bodies: httpx.AsyncClient, auth_headers: Headers
) -> None:
    headers = auth_headers("alice")
    created = await journal_with_bodies.post("/itwins", json={"displayName": "Plant"}, headers=headers)
    await journal_with_bodies.get("/health")

    health, creation = await _entries(journal_with_bodies)

    assert creation["requestBody"] == {"displayName": "Plant"}
    assert creation["responseBody"] == created.json()
    assert (creation["requestBodyTruncated"], creation["responseBodyTruncated"]) == (False, False)
    assert health["requestBody"] is None
    assert health["responseBody"] == (await journal_with_bodies.get("/health")).json()


async def test_a_long_body_is_journaled_as_its_first_64_kib_of_text(
    journal_with_bodies: httpx.AsyncClient, auth_headers: Headers
) -> None:
    document = json.dumps({"displayName": "x" * 70_000})
    await journal_with_bodies.post(
        "/itwins", content=document, headers={**auth_headers("alice"), "Content-Type": "application/json"}
    )

    (entry,) = await _entries(journal_with_bodies)
    assert entry["requestBody"] == document[: 64 * 1024]
    assert entry["requestBodyTruncated"] is True
    assert entry["status"] == 422
    assert entry["responseBody"]["error"]["code"] == entry["errorCode"]


@pytest.fixture
async def client_without_control(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    async for client in in_process_client(make_settings(control_api=False)):
        yield client


async def test_without_the_control_api_there_is_no_journal(client_without_control: httpx.AsyncClient) -> None:
    await client_without_control.get("/health")

    for method in ("GET", "DELETE"):
        response = await client_without_control.request(method, JOURNAL)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ResourceNotFound"
