"""The built-in issuer: discovery, JWKS and the client_credentials grant, used as a client would."""

from __future__ import annotations

import httpx
import jwt

from twinbridge.auth.service import ServiceClientService
from twinbridge.runtime import Runtime


async def _register(runtime: Runtime, client_id: str, scopes: list[str] | None = None) -> str:
    async with runtime.database.transaction() as transaction:
        return await ServiceClientService(transaction).register(client_id, scopes)


async def test_discovery_points_at_the_jwks_and_token_endpoint(client: httpx.AsyncClient) -> None:
    configuration = (await client.get("/.well-known/openid-configuration")).json()
    assert configuration["issuer"] == "http://twinbridge.test"
    assert configuration["jwks_uri"] == "http://twinbridge.test/.well-known/jwks.json"
    assert configuration["token_endpoint"] == "http://twinbridge.test/connect/token"


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
    assert response.json()["error"] == "unsupported_grant_type"
