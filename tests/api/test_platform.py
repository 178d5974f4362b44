"""Platform conventions seen over the API: the error envelope, auth failures, limits, operations endpoints."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from twinbridge.app import create_app
from twinbridge.config import Settings
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]


async def test_request_without_token_gets_exactly_the_contract_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/itwins")
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "HeaderNotFound",
            "message": "Header Authorization was not found in the request. Access denied.",
        }
    }


async def test_non_bearer_authorization_is_a_401_in_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/itwins", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert response.json()["error"]["details"][0]["target"] == "Authorization"


async def test_expired_token_is_a_401_not_a_500(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    response = await client.get("/itwins", headers=auth_headers("alice", ttl=-600))
    assert response.status_code == 401
    assert response.json()["error"]["details"][0]["message"] == "The token has expired."


async def test_granular_scope_of_another_api_is_enough_for_supporting_apis(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get("/itwins", headers=auth_headers("alice", scopes="export:read"))
    assert response.status_code == 200


async def test_read_scope_cannot_write(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    response = await client.post(
        "/itwins", json={"displayName": "x"}, headers=auth_headers("alice", scopes="export:read")
    )
    assert response.status_code == 401
    assert response.json()["error"]["details"][0]["code"] == "InsufficientScope"


async def test_unknown_route_gets_404_in_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "ResourceNotFound", "message": "The requested resource was not found."}
    }


async def test_wrong_method_gets_405_in_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.patch("/itwins")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "MethodNotAllowed"


async def test_malformed_json_gets_the_operation_code_and_contract_detail(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.post(
        "/itwins", content=b"{not json", headers={**auth_headers("alice"), "content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "InvalidiTwinsRequest",
            "message": "Cannot perform operation.",
            "details": [{"code": "InvalidRequestBody", "message": "Error parsing JSON, malformed JSON."}],
        }
    }


async def test_page_size_out_of_limits_is_a_422_targeting_top(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get("/itwins", params={"$top": "5000"}, headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"code": "InvalidValue", "message": "Page size is out of limits.", "target": "$top"}
    ]


async def test_rate_limit_answers_429_with_whole_seconds_to_wait(
    make_settings: Callable[..., Settings], auth_headers: Headers
) -> None:
    from twinbridge.db.migrate import upgrade

    settings = make_settings(rate_limit="3/minute")
    upgrade(settings)
    runtime = Runtime.create(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, runtime))
        token = runtime.issuer.mint(
            subject="busy", kind="user", scopes=["itwin-platform"], ttl=60
        ).access_token
        other = runtime.issuer.mint(
            subject="calm", kind="user", scopes=["itwin-platform"], ttl=60
        ).access_token
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            statuses = [
                (await client.get("/itwins", headers={"Authorization": f"Bearer {token}"})).status_code
                for _ in range(4)
            ]
            limited = await client.get("/itwins", headers={"Authorization": f"Bearer {token}"})
            calm = await client.get("/itwins", headers={"Authorization": f"Bearer {other}"})
    finally:
        await runtime.aclose()
    assert statuses == [200, 200, 200, 429]
    assert limited.json()["error"]["code"] == "TooManyRequests"
    assert limited.headers["retry-after"].isdigit()
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert calm.status_code == 200  # the limit is per caller


async def test_responses_carry_a_request_id_and_echo_the_callers(client: httpx.AsyncClient) -> None:
    generated = await client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/health", headers={"x-request-id": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"


async def test_health_needs_no_token_and_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/itwins/abc")
    body = (await client.get("/metrics")).text
    assert 'twinbridge_http_requests_total{method="GET",route="/itwins/{itwin_id}",status="401"} 1.0' in body


async def test_openapi_document_lists_the_operations(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert {"/itwins", "/imodels", "/imodels/{imodel_id}", "/connect/token"} <= set(document["paths"])


async def test_openapi_document_names_the_parameters_dependencies_read_by_hand(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    listing = document["paths"]["/synchronization/imodels/storageconnections"]["get"]["parameters"]
    assert [(item["name"], item["in"]) for item in listing] == [
        ("imodelId", "query"),
        ("$top", "query"),
        ("$skip", "query"),
        ("Prefer", "header"),
    ]
    single = document["paths"]["/export/connections/{connection_id}"]["get"]["parameters"]
    assert [item["name"] for item in single] == ["connection_id"]


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/jwks.json"])
async def test_issuer_documents_are_public(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200


async def test_query_parameter_names_are_matched_in_any_case(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    itwin = (
        await client.post("/itwins", json={"displayName": "Plant"}, headers=auth_headers("alice"))
    ).json()
    for name in ("iTwinId", "itwinId", "ITWINID"):
        response = await client.get(
            "/imodels", params={name: itwin["iTwin"]["id"]}, headers=auth_headers("alice")
        )
        assert response.status_code == 200, (name, response.text)
        assert response.json()["iModels"] == []


async def test_a_trailing_slash_is_answered_directly_not_redirected(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    created = await client.post("/itwins/", json={"displayName": "Slash"}, headers=auth_headers("alice"))
    assert created.status_code == 201, created.text
    fetched = await client.get(f"/itwins/{created.json()['iTwin']['id']}/", headers=auth_headers("alice"))
    assert fetched.json()["iTwin"]["displayName"] == "Slash"


async def test_a_wrong_method_lists_every_method_of_the_path_in_allow(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    headers = auth_headers("alice")
    collection = await client.patch("/itwins", headers=headers)
    member = await client.put("/itwins/some-id", headers=headers)
    literal = await client.request("OPTIONS", "/itwins/favorites", headers=headers)
    assert collection.headers["allow"] == "GET, POST"
    assert member.headers["allow"] == "DELETE, GET, PATCH"
    assert literal.headers["allow"] == "GET"  # not those of /itwins/{itwin_id}, which it also matches
    assert [response.status_code for response in (collection, member, literal)] == [405, 405, 405]


async def test_the_openapi_document_names_every_error_answer_in_the_envelope(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    create = document["paths"]["/itwins"]["post"]
    upload = document["paths"]["/storage/files/{file_id}/upload"]["put"]
    token = document["paths"]["/connect/token"]["post"]
    assert sorted(create["responses"]) == [
        "201",
        "401",
        "403",
        "404",
        "409",
        "413",
        "422",
        "429",
        "500",
        "503",
        "507",
    ]
    assert create["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert create["security"] == [{"bearer": []}]
    assert "401" not in upload["responses"]
    assert "security" not in upload
    assert token["responses"]["400"]["content"]["application/json"]["schema"]["title"] == "OAuthError"
    assert "HTTPValidationError" not in document["components"]["schemas"]
    skip = next(
        parameter
        for parameter in document["paths"]["/itwins"]["get"]["parameters"]
        if parameter["name"] == "$skip"
    )
    assert skip["schema"]["maximum"] == 2**63 - 1
