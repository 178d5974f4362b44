"""Fault rules of the control API, in process: what a client of a faulted operation gets."""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.api.control.in_process import in_process_client
from twinbridge.app import create_app
from twinbridge.config import Settings
from twinbridge.control.middleware import ConnectionDropped, RequestControlMiddleware
from twinbridge.runtime import Runtime

FAULTS = "/_twinbridge/faults"
LIST_ITWINS = "list_itwins_itwins_get"
Headers = Callable[..., dict[str, str]]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(control_api=True)


async def _create(client: httpx.AsyncClient, **rule: Any) -> dict[str, Any]:
    response = await client.post(FAULTS, json=rule)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["fault"]
    return created


async def test_a_status_rule_answers_the_contracts_envelope_with_retry_after(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    await _create(client, operationId=LIST_ITWINS, action="status", status=429, retryAfter=3)

    response = await client.get("/itwins", headers=auth_headers("alice"))

    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": {
            "code": "TooManyRequests",
            "message": "More requests were received than the subscription rate-limit allows.",
        }
    }
    assert re.fullmatch(
        r"[0-9a-f]{32}", response.headers["x-request-id"]
    )  # answered inside the request context


async def test_a_status_rule_answers_the_code_and_message_it_names(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    await _create(client, method="POST", path="/itwins", action="status", status=503)
    await _create(
        client,
        path="/itwins/*",
        action="status",
        status=404,
        code="iTwinNotFound",
        message="Requested iTwin is not available.",
    )

    unavailable = await client.post("/itwins", json={"displayName": "Plant"}, headers=auth_headers("alice"))
    not_found = await client.get("/itwins/any", headers=auth_headers("alice"))

    assert unavailable.status_code == 503
    assert unavailable.json() == {"error": {"code": "ServiceUnavailable", "message": "Service Unavailable."}}
    assert "retry-after" not in unavailable.headers
    assert not_found.status_code == 404
    assert not_found.json() == {
        "error": {"code": "iTwinNotFound", "message": "Requested iTwin is not available."}
    }


async def test_a_rule_with_a_count_fires_that_many_times_then_expires(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    rule = await _create(client, operationId=LIST_ITWINS, action="status", status=500, count=2)
    assert (rule["remaining"], rule["fired"]) == (2, 0)

    first = await client.get("/itwins", headers=auth_headers("alice"))
    listed = (await client.get(FAULTS)).json()["faults"]
    second = await client.get("/itwins", headers=auth_headers("alice"))
    third = await client.get("/itwins", headers=auth_headers("alice"))

    assert first.json() == {
        "error": {"code": "InternalServerError", "message": "The server could not complete the request."}
    }
    assert [(item["id"], item["remaining"], item["fired"]) for item in listed] == [(rule["id"], 1, 1)]
    assert second.status_code == 500
    assert third.status_code == 200
    assert "iTwins" in third.json()
    assert (await client.get(FAULTS)).json() == {"faults": []}


async def test_a_seeded_probability_fires_on_the_same_requests_every_time(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    await _create(client, operationId=LIST_ITWINS, action="status", status=503, probability=0.5, seed=7)
    draws = random.Random(7)
    expected = [503 if draws.random() < 0.5 else 200 for _ in range(12)]

    statuses = [(await client.get("/itwins", headers=auth_headers("alice"))).status_code for _ in range(12)]

    assert statuses == expected
    assert 503 in statuses
    assert 200 in statuses
    (rule,) = (await client.get(FAULTS)).json()["faults"]
    assert rule["fired"] == expected.count(503)


async def test_a_rule_by_method_and_path_glob_leaves_other_requests_alone(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    await _create(client, method="delete", path="/itwins/*", action="status", status=409)

    read = await client.get("/itwins/some-id", headers=auth_headers("alice"))
    deleted = await client.delete("/itwins/some-id", headers=auth_headers("alice"))

    assert read.json()["error"]["code"] == "iTwinNotFound"  # the real operation answered
    assert deleted.status_code == 409
    assert deleted.json()["error"]["code"] == "Conflict"


async def test_a_latency_rule_delays_the_request_and_the_operation_answers(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    rule = await _create(client, operationId=LIST_ITWINS, action="latency", latencyMs=20)

    response = await client.get("/itwins", headers=auth_headers("alice"))

    assert response.status_code == 200
    assert response.json()["iTwins"] == []
    assert (await client.get(FAULTS)).json()["faults"][0]["fired"] == 1
    assert rule["latencyMs"] == 20


async def test_a_drop_rule_answers_nothing(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    """In process the client sees the exception; over HTTP (tests/integration) a closed connection."""
    await _create(client, path="/itwins", action="drop", count=1)

    with pytest.raises(ConnectionDropped):
        await client.get("/itwins", headers=auth_headers("alice"))
    assert (await client.get("/itwins", headers=auth_headers("alice"))).status_code == 200


async def test_rules_never_match_the_control_api(client: httpx.AsyncClient) -> None:
    rule = await _create(client, action="status", status=500)

    health = await client.get("/health")
    listed = await client.get(FAULTS)

    assert health.status_code == 500
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["faults"]] == [rule["id"]]


async def test_faults_are_listed_and_deleted_one_or_all(client: httpx.AsyncClient) -> None:
    first = await _create(client, path="/health", action="drop")
    second = await _create(
        client, operationId=LIST_ITWINS, action="latency", latencyMs=1, probability=0.25, seed=1
    )
    assert second == {
        "id": second["id"],
        "operationId": LIST_ITWINS,
        "method": None,
        "path": None,
        "action": "latency",
        "status": None,
        "code": None,
        "message": None,
        "retryAfter": None,
        "latencyMs": 1,
        "probability": 0.25,
        "seed": 1,
        "remaining": None,
        "fired": 0,
    }

    assert (await client.delete(f"{FAULTS}/{first['id']}")).status_code == 204
    assert [item["id"] for item in (await client.get(FAULTS)).json()["faults"]] == [second["id"]]
    missing = await client.delete(f"{FAULTS}/{first['id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "FaultNotFound"
    assert (await client.delete(FAULTS)).status_code == 204
    assert (await client.get(FAULTS)).json() == {"faults": []}
    assert (await client.get("/health")).status_code == 200


@pytest.mark.parametrize(
    ("rule", "detail"),
    [
        (
            {"action": "status", "status": 302},
            {"code": "InvalidValue", "target": "status"},
        ),
        ({"action": "status", "status": 600}, {"code": "InvalidValue", "target": "status"}),
        ({"action": "drop", "probability": 1.5}, {"code": "InvalidValue", "target": "probability"}),
        ({"action": "drop", "probability": -0.1}, {"code": "InvalidValue", "target": "probability"}),
        ({"action": "explode"}, {"code": "InvalidValue", "target": "action"}),
        ({"status": 500}, {"code": "MissingRequiredProperty", "target": "action"}),
        ({"action": "status"}, {"code": "MissingRequiredProperty", "target": "status"}),
        ({"action": "latency"}, {"code": "MissingRequiredProperty", "target": "latencyMs"}),
        ({"action": "drop", "status": 500}, {"code": "InvalidValue", "target": "status"}),
        ({"action": "drop", "count": 0}, {"code": "InvalidValue", "target": "count"}),
        ({"action": "drop", "method": "FETCH"}, {"code": "InvalidValue", "target": "method"}),
        ({"action": "drop", "probabilty": 0.5}, {"code": "InvalidValue", "target": "probabilty"}),
        (
            {"action": "drop", "operationId": "no_such_operation"},
            {"code": "InvalidValue", "target": "operationId"},
        ),
        (
            {"action": "drop", "operationId": "list_faults__twinbridge_faults_get"},
            {"code": "InvalidValue", "target": "operationId"},
        ),
    ],
)
async def test_an_invalid_rule_is_422_naming_the_property(
    client: httpx.AsyncClient, rule: dict[str, Any], detail: dict[str, str]
) -> None:
    response = await client.post(FAULTS, json=rule)

    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("InvalidFaultRequest", "Cannot perform operation.")
    assert [{"code": item["code"], "target": item["target"]} for item in error["details"]] == [detail]
    assert (await client.get(FAULTS)).json() == {"faults": []}


async def test_a_rules_operation_id_is_the_one_of_the_openapi_document(client: httpx.AsyncClient) -> None:
    """Every operation of /openapi.json can be named by a rule, and a rule naming it fires on its requests."""
    document = (await client.get("/openapi.json")).json()
    operations = [
        (method.upper(), path, operation["operationId"])
        for path, methods in document["paths"].items()
        if not path.startswith("/_twinbridge/")
        for method, operation in methods.items()
    ]
    assert len(operations) > 50
    for method, path, operation_id in operations:
        await _create(client, operationId=operation_id, action="status", status=418, code=operation_id)
        concrete = re.sub(r"\{[^}]+\}", "0e0e0e0e", path)
        response = await client.request(method, concrete)
        assert (response.status_code, response.json()["error"]["code"]) == (418, operation_id), (method, path)
        await client.delete(FAULTS)


@pytest.fixture
async def client_without_control(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    async for client in in_process_client(make_settings(control_api=False)):
        yield client


async def test_without_the_control_api_the_faults_do_not_exist(
    client_without_control: httpx.AsyncClient,
) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = await client_without_control.request(method, FAULTS, json={"action": "drop"})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ResourceNotFound"
    assert (await client_without_control.get("/health")).status_code == 200


async def test_only_a_server_with_the_control_api_has_its_middleware(
    runtime: Runtime, make_settings: Callable[..., Settings]
) -> None:
    """A normal server's requests pass through no fault or journal code at all."""

    def middleware(control_api: bool) -> list[object]:
        app = create_app(make_settings(control_api=control_api), runtime)
        return [entry.cls for entry in app.user_middleware]

    assert RequestControlMiddleware in middleware(True)
    assert RequestControlMiddleware not in middleware(False)
