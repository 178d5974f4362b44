"""The Export API's eight operations, in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import ifcopenshell
import pytest

from tests.api.export_world import World, create_connection, start_run
from tests.api.export_world import world as world  # the fixture
from twinbridge.itwins.service import ITwinService
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]
BASE = "http://twinbridge.test"


# E1 Create Export Connection


async def test_create_connection_answers_201_with_the_contract_shape(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    response = await client.post(
        "/export/connections",
        json={"iModelId": world.imodel_id, "displayName": "30", "authenticationType": "Service"},
        headers=auth_headers("alice"),
    )
    assert response.status_code == 201
    connection = response.json()["connection"]
    assert set(connection) == {"id", "displayName", "iModelId", "iTwinId", "authenticationType", "_links"}
    assert (connection["displayName"], connection["iTwinId"], connection["authenticationType"]) == (
        "30",
        world.itwin_id,
        "Service",
    )
    assert connection["_links"] == {
        "iModel": {"href": f"{BASE}/imodels/{world.imodel_id}"},
        "iTwin": {"href": f"{BASE}/itwins/{world.itwin_id}"},
    }


async def test_create_connection_defaults_to_user_authentication(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    assert connection["authenticationType"] == "User"


async def test_create_connection_without_imodel_id_gives_the_seed_detail(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.post(
        "/export/connections", json={"displayName": "x"}, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "InvalidExportConnectionRequest",
            "message": "Cannot perform operation.",
            "details": [
                {
                    "code": "MissingRequiredProperty",
                    "message": "imodelId was not provided.",
                    "target": "imodelId",
                }
            ],
        }
    }


async def test_create_connection_for_an_unknown_imodel_is_invalid(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.post(
        "/export/connections", json={"iModelId": "nope"}, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"code": "InvalidValue", "message": "Provided imodelId value is not valid.", "target": "imodelId"}
    ]


async def test_readers_cannot_create_connections(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    response = await client.post(
        "/export/connections", json={"iModelId": world.imodel_id}, headers=auth_headers("rita")
    )
    assert response.status_code == 403


async def test_synchronization_scope_cannot_use_export(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    headers = auth_headers("alice", scopes="synchronization:modify")
    response = await client.post("/export/connections", json={"iModelId": world.imodel_id}, headers=headers)
    assert response.status_code == 401


# E2 Get Export Connection


async def test_get_connection_answers_404_with_the_seed_body(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get("/export/connections/unknown", headers=auth_headers("alice"))
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "ConnectionNotFound", "message": "Requested Connection is not available."}
    }


async def test_get_connection_is_403_for_non_members(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    response = await client.get(f"/export/connections/{connection['id']}", headers=auth_headers("mallory"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "InsufficientPermissions"


async def test_export_read_scope_reads_connections(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    response = await client.get(
        f"/export/connections/{connection['id']}", headers=auth_headers("rita", scopes="export:read")
    )
    assert response.status_code == 200


async def test_last_run_link_follows_the_latest_run(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    created = await start_run(client, auth_headers("alice"), connection["id"])
    fetched = (
        await client.get(f"/export/connections/{connection['id']}", headers=auth_headers("alice"))
    ).json()
    assert fetched["connection"]["_links"]["lastRun"]["href"] == created.headers["location"]


# E3 Get Export Connections


async def test_list_connections_pages_with_links(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    for name in ("a", "b", "c"):
        await create_connection(client, auth_headers("alice"), world.imodel_id, displayName=name)
    first = await client.get(
        "/export/connections", params={"imodelId": world.imodel_id, "$top": 2}, headers=auth_headers("rita")
    )
    body = first.json()
    assert [item["displayName"] for item in body["connections"]] == ["a", "b"]
    assert (
        body["_links"]["self"]["href"]
        == f"{BASE}/export/connections?imodelId={world.imodel_id}&$skip=0&$top=2"
    )
    assert (
        body["_links"]["next"]["href"]
        == f"{BASE}/export/connections?imodelId={world.imodel_id}&$skip=2&$top=2"
    )
    assert "prev" not in body["_links"]
    second = (await client.get(body["_links"]["next"]["href"], headers=auth_headers("rita"))).json()
    assert [item["displayName"] for item in second["connections"]] == ["c"]
    assert set(second["_links"]) == {"self", "prev"}


async def test_list_connections_needs_imodel_id(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    response = await client.get("/export/connections", headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "InvalidConnectionsRequest",
        "message": "Cannot perform operation.",
        "details": [
            {
                "code": "MissingRequiredParameter",
                "message": "imodelId was not provided.",
                "target": "imodelId",
            }
        ],
    }


async def test_list_connections_of_an_unknown_imodel_gives_the_seed_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get(
        "/export/connections", params={"imodelId": "x"}, headers=auth_headers("alice")
    )
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "ConnectionNotFound",
        "message": "Requested iModelId is not available.",
    }


async def test_list_connections_page_size_out_of_limits(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    response = await client.get(
        "/export/connections", params={"imodelId": world.imodel_id, "$top": 0}, headers=auth_headers("alice")
    )
    assert response.json()["error"]["details"] == [
        {"code": "InvalidValue", "message": "Page size is out of limits.", "target": "$top"}
    ]


# E4 Delete Export Connection


async def test_delete_connection_answers_204_and_removes_its_runs(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    await start_run(client, auth_headers("alice"), connection["id"])
    await execute_queued_runs()
    response = await client.delete(f"/export/connections/{connection['id']}", headers=auth_headers("alice"))
    assert response.status_code == 204
    assert (
        await client.get(f"/export/connections/{connection['id']}", headers=auth_headers("alice"))
    ).status_code == 404
    runs = await client.get(f"/export/connections/{connection['id']}/runs", headers=auth_headers("alice"))
    assert runs.status_code == 404


async def test_delete_connection_with_an_active_run_is_a_conflict(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    await start_run(client, auth_headers("alice"), connection["id"])
    response = await client.delete(f"/export/connections/{connection['id']}", headers=auth_headers("alice"))
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "ConnectionAlreadyInUse",
        "message": "Connection is already being processed.",
    }


async def test_delete_unknown_connection_is_404(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    response = await client.delete("/export/connections/nope", headers=auth_headers("alice"))
    assert response.status_code == 404


# E5 Create ExportConnection Run


async def test_create_run_answers_202_with_location_and_no_body(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    response = await start_run(client, auth_headers("alice"), connection["id"], ifcVersion="IFC2x3")
    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["location"].startswith(f"{BASE}/export/connections/{connection['id']}/runs/")
    run = (await client.get(response.headers["location"], headers=auth_headers("alice"))).json()["run"]
    assert (run["state"], run["result"]) == ("Queued", "Undetermined")
    assert run["startDateTime"].endswith("Z")
    assert run["endDateTime"] is None
    assert run["jobs"][0]["tasks"][0]["state"] == "NotStarted"


async def test_second_run_for_the_imodel_is_redirected_to_the_active_one(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    first_connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    second_connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    first = await start_run(client, auth_headers("alice"), first_connection["id"])
    second = await start_run(client, auth_headers("alice"), second_connection["id"])
    assert second.status_code == 303
    assert second.headers["location"] == first.headers["location"]


async def test_concurrent_run_creates_give_one_202_and_the_rest_303_or_409(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    headers = auth_headers("alice")
    responses = await asyncio.gather(*[start_run(client, headers, connection["id"]) for _ in range(8)])
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(202) == 1
    assert set(statuses) <= {202, 303, 409}


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"exportType": "PDF"}, "exportType"),
        ({"exportType": "IFC", "ifcVersion": "IFC5"}, "ifcVersion"),
        ({"exportType": "IFC", "inputOptions": {"modelIds": []}}, "inputOptions.modelIds"),
        (
            {"exportType": "IFC", "inputOptions": {"mappingfileBlobUrl": "ftp://x"}},
            "inputOptions.mappingfileBlobUrl",
        ),
        (
            {"exportType": "IFC", "outputOptions": {"location": "USER_BLOB_STORAGE"}},
            "outputOptions.outputSasUrl",
        ),
        ({}, "exportType"),
    ],
)
async def test_invalid_run_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, body: dict, target: str
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    response = await client.post(
        f"/export/connections/{connection['id']}/runs", json=body, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "InvalidExportConnectionRunRequest"
    assert target in [detail["target"] for detail in error["details"]]


async def test_readers_cannot_start_runs(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    assert (await start_run(client, auth_headers("rita"), connection["id"])).status_code == 403


# E6/E7 Get runs


async def test_get_run_of_another_connection_is_the_seed_404(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    response = await client.get(
        f"/export/connections/{connection['id']}/runs/nope", headers=auth_headers("alice")
    )
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "ConnectionRunNotFound",
        "message": "Requested Connection Run is not available.",
    }


async def test_run_executes_to_success_and_the_output_is_valid_ifc(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    started = await start_run(client, auth_headers("alice"), connection["id"], ifcVersion="IFC4.3")
    location = started.headers["location"]
    await execute_queued_runs()
    run = (await client.get(location, headers=auth_headers("alice"))).json()["run"]
    assert (run["state"], run["result"]) == ("Completed", "Success")
    task = run["jobs"][0]["tasks"][0]
    assert (task["state"], task["result"], task["retryAttempts"]) == ("Completed", "Success", 0)
    assert task["startDateTime"] <= task["endDateTime"]
    download = await client.get(
        f"/storage/files/{task['exportOutputFileId']}/download", headers=auth_headers("alice")
    )
    assert download.status_code == 302
    content = await client.get(download.headers["location"])
    model = ifcopenshell.file.from_string(content.text)
    assert model.schema_identifier == "IFC4X3_ADD2"
    assert len(model.by_type("IfcProduct")) > 173


async def test_user_run_without_a_grant_fails_with_user_not_authenticated(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    async with runtime.database.transaction() as transaction:
        await ITwinService(transaction).set_member(world.itwin_id, "bob", "Contributor")  # type: ignore[arg-type]
    connection = await create_connection(client, auth_headers("bob"), world.imodel_id)
    location = (await start_run(client, auth_headers("bob"), connection["id"])).headers["location"]
    await execute_queued_runs()
    run = (await client.get(location, headers=auth_headers("bob"))).json()["run"]
    assert (run["state"], run["result"]) == ("Completed", "Error")
    assert run["error"] == {"errorKey": "UserNotAuthenticated", "description": "User is not authenticated."}


async def test_a_user_token_carrying_consent_records_the_grant_when_it_starts_a_run(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    async with runtime.database.transaction() as transaction:
        await ITwinService(transaction).set_member(world.itwin_id, "bob", "Contributor")  # type: ignore[arg-type]
    consenting = auth_headers("bob", background_runs=True)
    params = {"redirectUrl": "http://localhost:3301/callback"}

    async def authorized(headers: dict[str, str]) -> bool:
        response = await client.get("/export/authorizationinformation", params=params, headers=headers)
        return bool(response.json()["authorizationInformation"]["isUserAuthorized"])

    assert await authorized(consenting) is True
    assert await authorized(auth_headers("bob")) is False  # nothing recorded by asking
    connection = await create_connection(client, consenting, world.imodel_id)
    location = (await start_run(client, consenting, connection["id"])).headers["location"]
    assert await authorized(auth_headers("bob")) is True  # recorded with the run
    await execute_queued_runs()
    run = (await client.get(location, headers=auth_headers("bob"))).json()["run"]
    assert (run["state"], run["result"]) == ("Completed", "Success")


async def test_a_service_client_runs_a_user_connection_as_itself(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    async with runtime.database.transaction() as transaction:
        await ITwinService(transaction).set_member(world.itwin_id, "ci-bot", "Contributor")  # type: ignore[arg-type]
    service = auth_headers("ci-bot", kind="service")
    information = await client.get(
        "/export/authorizationinformation", params={"redirectUrl": "http://localhost/cb"}, headers=service
    )
    assert information.json()["authorizationInformation"]["isUserAuthorized"] is True
    connection = await create_connection(client, service, world.imodel_id)
    assert connection["authenticationType"] == "User"
    location = (await start_run(client, service, connection["id"])).headers["location"]
    await execute_queued_runs()
    run = (await client.get(location, headers=service)).json()["run"]
    assert (run["state"], run["result"]) == ("Completed", "Success"), run


async def test_unknown_changeset_fails_the_run_with_a_clear_task_error(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    response = await start_run(
        client, auth_headers("alice"), connection["id"], inputOptions={"changesetId": "abc"}
    )
    await execute_queued_runs()
    run = (await client.get(response.headers["location"], headers=auth_headers("alice"))).json()["run"]
    error = run["jobs"][0]["tasks"][0]["error"]
    assert run["result"] == "Error"
    assert error["errorCode"] == "ChangesetNotFound"
    assert "changeset 'abc'" in error["details"]
    assert error["canUserFix"] is True


async def test_list_runs_is_newest_first_and_full(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    first = (
        await start_run(client, auth_headers("alice"), connection["id"], inputOptions={"changesetId": "x"})
    ).headers
    await execute_queued_runs()
    second = (await start_run(client, auth_headers("alice"), connection["id"])).headers
    body = (
        await client.get(f"/export/connections/{connection['id']}/runs", headers=auth_headers("rita"))
    ).json()
    assert [run["id"] for run in body["runs"]] == [
        second["location"].rsplit("/", 1)[1],
        first["location"].rsplit("/", 1)[1],
    ]
    assert "jobs" in body["runs"][0]
    assert body["_links"]["self"]["href"].endswith("/runs?$skip=0&$top=100")


# E8 Get Authorization Information


async def test_authorization_information_reflects_the_grant(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    params = {"redirectUrl": "http://localhost:3301/callback"}
    granted = await client.get(
        "/export/authorizationinformation", params=params, headers=auth_headers("alice")
    )
    assert granted.json()["authorizationInformation"]["isUserAuthorized"] is True
    missing = await client.get(
        "/export/authorizationinformation", params=params, headers=auth_headers("dave")
    )
    information = missing.json()["authorizationInformation"]
    assert information["isUserAuthorized"] is False
    authorize = await client.get(information["_links"]["authorizationUrl"]["href"])
    assert authorize.status_code == 302
    assert authorize.headers["location"] == "http://localhost:3301/callback"
    again = await client.get("/export/authorizationinformation", params=params, headers=auth_headers("dave"))
    assert again.json()["authorizationInformation"]["isUserAuthorized"] is True


async def test_authorization_information_refuses_a_bad_redirect_url(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get(
        "/export/authorizationinformation", params={"redirectUrl": "not a url"}, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "InvalidAuthorizationInformationRequest",
        "message": "Cannot perform operation.",
        "details": [
            {"code": "InvalidValue", "message": "redirectUrl must be a valid URL.", "target": "$redirectUrl"}
        ],
    }


async def test_authorization_information_needs_redirect_url(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get("/export/authorizationinformation", headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["target"] == "$redirectUrl"


async def test_forged_grant_ticket_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/connect/authorize", params={"ticket": "forged"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidGrantTicket"


async def test_an_authorization_url_redirects_only_to_the_url_bound_into_its_ticket(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    params = {"redirectUrl": "http://localhost:3301/callback"}
    information = await client.get(
        "/export/authorizationinformation", params=params, headers=auth_headers("dave")
    )
    href = information.json()["authorizationInformation"]["_links"]["authorizationUrl"]["href"]
    diverted = await client.get(href + "&redirect_url=https%3A%2F%2Fevil.example%2F")
    assert diverted.status_code == 302
    assert diverted.headers["location"] == "http://localhost:3301/callback"
    ticket = href.split("ticket=", 1)[1]
    encoded, _, mac = ticket.partition(".")
    tampered = await client.get("/connect/authorize", params={"ticket": f"{encoded}A.{mac}"})
    assert tampered.status_code == 400
    assert tampered.json()["error"]["code"] == "InvalidGrantTicket"
