"""401 answers of every API operation, with the API gateway's codes and messages; the reason in `details`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from twinbridge.auth.issuer import BuiltInIssuer
from twinbridge.auth.keys import load_or_create_signing_key

Headers = Callable[..., dict[str, str]]
REFUSED_TOKEN = (
    "Access denied due to invalid access_token. "
    "Make sure that issuer is correct, the token is not expired and is not corrupted."
)


async def test_no_authorization_header_is_header_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/itwins")
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "HeaderNotFound",
            "message": "Header Authorization was not found in the request. Access denied.",
        }
    }


async def test_another_scheme_is_invalid_authorization_scheme_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/itwins", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "InvalidAuthorizationScheme",
            "message": "Authorization scheme 'Basic' is not valid.",
            "details": [
                {
                    "code": "InvalidValue",
                    "message": "Expected 'Bearer <access token>'.",
                    "target": "Authorization",
                }
            ],
        }
    }


async def test_a_bare_token_is_read_as_its_scheme_as_the_gateway_does(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/itwins", json={"displayName": "x"}, headers={"Authorization": "invalid-token"}
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (
        "InvalidAuthorizationScheme",
        "Authorization scheme 'invalid-token' is not valid.",
    )


async def test_bearer_without_a_token_is_an_invalid_header_value(client: httpx.AsyncClient) -> None:
    for header in ("Bearer ", "Bearer", ""):
        response = await client.get("/itwins", headers={"Authorization": header})
        assert response.status_code == 401, header
        error = response.json()["error"]
        assert (error["code"], error["message"], error["details"][0]["code"]) == (
            "InvalidHeaderValue",
            REFUSED_TOKEN,
            "MissingToken",
        ), header


async def test_a_garbled_bearer_value_is_an_invalid_header_value(client: httpx.AsyncClient) -> None:
    # The value iTwin/imodels-clients' integration test sends; the gateway's message is kept.
    response = await client.get("/itwins", headers={"Authorization": "Bearer invalid token"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidHeaderValue"
    assert response.json()["error"]["message"] == REFUSED_TOKEN
    not_a_jwt = await client.get("/itwins", headers={"Authorization": "Bearer abc.def"})
    assert not_a_jwt.json()["error"]["details"] == [
        {
            "code": "MalformedToken",
            "message": "The token is not a well-formed JWT.",
            "target": "Authorization",
        }
    ]


async def test_an_expired_token_is_unauthorized_with_the_reason(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get("/itwins", headers=auth_headers("alice", ttl=-600))
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "Unauthorized",
            "message": REFUSED_TOKEN,
            "details": [
                {"code": "TokenExpired", "message": "The token has expired.", "target": "Authorization"}
            ],
        }
    }


async def test_a_token_of_another_issuer_or_key_is_unauthorized(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    stranger = load_or_create_signing_key(tmp_path / "stranger")
    foreign = BuiltInIssuer("https://elsewhere.example", stranger).mint(
        subject="eve", kind="user", scopes=["itwin-platform"], ttl=60
    )
    response = await client.get("/itwins", headers={"Authorization": f"Bearer {foreign.access_token}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "Unauthorized"
    assert response.json()["error"]["details"][0]["code"] == "UnknownIssuer"
    forged = BuiltInIssuer("http://twinbridge.test", stranger).mint(
        subject="eve", kind="user", scopes=["itwin-platform"], ttl=60
    )
    response = await client.get("/itwins", headers={"Authorization": f"Bearer {forged.access_token}"})
    assert response.json()["error"]["code"] == "Unauthorized"
    assert response.json()["error"]["details"][0]["code"] == "UnknownSigningKey"


async def test_a_valid_token_without_the_scope_is_required_scope_missing(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    write = await client.post(
        "/itwins", json={"displayName": "x"}, headers=auth_headers("alice", scopes="export:read")
    )
    assert write.status_code == 401
    assert write.json()["error"] == {
        "code": "RequiredScopeMissing",
        "message": (
            "Access denied due to missing required scope. The access token does not grant this operation."
        ),
        "details": [
            {
                "code": "InsufficientScope",
                "message": "This operation requires the scope itwin-platform.",
                "target": "Authorization",
            }
        ],
    }
    no_api_scope = await client.get("/itwins", headers=auth_headers("alice", scopes="openid offline_access"))
    assert no_api_scope.status_code == 401
    assert no_api_scope.json()["error"]["code"] == "RequiredScopeMissing"


async def test_bearer_is_accepted_in_any_case(
    client: httpx.AsyncClient, token_for: Callable[..., str]
) -> None:
    response = await client.get("/itwins", headers={"Authorization": f"bearer {token_for('alice')}"})
    assert response.status_code == 200
