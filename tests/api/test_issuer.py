"""The built-in issuer: discovery, JWKS and the client_credentials grant, used as a client would (sign-in with
the authorization code grant: test_sign_in.py)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import jwt
import pytest

from twinbridge.app import create_app
from twinbridge.auth.repository import ServiceClientRepository
from twinbridge.auth.service import ServiceClientService
from twinbridge.config import Settings
from twinbridge.db.migrate import upgrade
from twinbridge.platform.errors import InvalidRequest
from twinbridge.runtime import Runtime


async def _register(runtime: Runtime, client_id: str, scopes: list[str] | None = None) -> str:
    async with runtime.database.transaction() as transaction:
        return await ServiceClientService(transaction).register(client_id, scopes)


async def test_discovery_points_at_the_jwks_and_token_endpoint(client: httpx.AsyncClient) -> None:
    configuration = (await client.get("/.well-known/openid-configuration")).json()
    assert configuration["issuer"] == "http://twinbridge.test"
    assert configuration["jwks_uri"] == "http://twinbridge.test/.well-known/jwks.json"
    assert configuration["token_endpoint"] == "http://twinbridge.test/connect/token"


# What @itwin/service-authorization 2.1.0 (assertOIDCConfig) requires and type-checks.
REQUIRED = (
    "issuer",
    "authorization_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
)
STRINGS = ("issuer", "authorization_endpoint", "jwks_uri", "token_endpoint", "userinfo_endpoint")
STRING_ARRAYS = (
    "scopes_supported",
    "response_types_supported",
    "response_modes_supported",
    "grant_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported",
    "claims_supported",
)
BOOLEANS = (
    "claims_parameter_supported",
    "request_parameter_supported",
    "request_uri_parameter_supported",
    "require_request_uri_registration",
)


async def test_discovery_is_a_complete_document_the_itwin_clients_accept(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(public_url="http://localhost:8080/")  # the issuer is named without the slash
    upgrade(settings)
    runtime = Runtime.create(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8080") as client:
            response = await client.get(
                "/.well-known/openid-configuration", headers={"Accept": "application/json"}
            )
    finally:
        await runtime.aclose()
    assert response.status_code == 200
    document = response.json()
    assert all(name in document for name in REQUIRED)
    assert all(isinstance(document[name], str) for name in STRINGS if name in document)
    for name in STRING_ARRAYS:
        assert isinstance(document[name], list), name
        assert all(isinstance(item, str) for item in document[name]), name
    assert all(isinstance(document[name], bool) for name in BOOLEANS if name in document)
    base = "http://localhost:8080"
    assert document["issuer"] == base
    assert (
        document["authorization_endpoint"],
        document["token_endpoint"],
        document["revocation_endpoint"],
    ) == (
        f"{base}/connect/authorize",
        f"{base}/connect/token",
        f"{base}/connect/revocation",
    )
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert set(document["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert set(document["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert {"itwin-platform", "offline_access", "openid"} <= set(document["scopes_supported"])
    assert document["subject_types_supported"] == ["public"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]


async def test_client_credentials_token_verifies_against_the_published_jwks(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    secret = await _register(runtime, "ci-bot")
    response = await client.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "client_id": "ci-bot", "client_secret": secret},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["token_type"], body["scope"]) == ("Bearer", "itwin-platform")
    jwks = (await client.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(body["access_token"], key, algorithms=["RS256"])
    assert claims["client_id"] == claims["sub"] == "ci-bot"
    # The token works on the API, as a service caller.
    itwins = await client.get("/itwins", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert itwins.status_code == 200


async def test_client_secret_may_come_in_basic_auth(client: httpx.AsyncClient, runtime: Runtime) -> None:
    secret = await _register(runtime, "ci-bot")
    response = await client.post(
        "/connect/token", data={"grant_type": "client_credentials"}, auth=("ci-bot", secret)
    )
    assert response.status_code == 200


async def test_wrong_secret_is_an_oauth_invalid_client(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await _register(runtime, "ci-bot")
    response = await client.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "client_id": "ci-bot", "client_secret": "no"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_scopes_beyond_the_registration_are_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    secret = await _register(runtime, "reader-bot", ["export:read"])
    response = await client.post(
        "/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "reader-bot",
            "client_secret": secret,
            "scope": "itwin-platform",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_other_grants_are_unsupported(client: httpx.AsyncClient) -> None:
    response = await client.post("/connect/token", data={"grant_type": "password"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "unsupported_grant_type",
        "error_description": "Supported grant types: authorization_code, refresh_token, client_credentials.",
    }


async def test_a_client_id_naming_another_issuers_caller_is_not_registered(runtime: Runtime) -> None:
    async with runtime.database.transaction() as transaction:
        with pytest.raises(InvalidRequest) as refused:
            await ServiceClientService(transaction).register("https://idp.example|robot")
    assert "without '|'" in refused.value.details[0].message
    async with runtime.database.transaction(write=False) as transaction:
        assert await ServiceClientRepository(transaction).get("https://idp.example|robot") is None
