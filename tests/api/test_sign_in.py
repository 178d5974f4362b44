"""Interactive sign-in at the built-in issuer, driven as @itwin/node-cli-authorization drives it: authorize
(a plain GET answered with a 302 to the loopback redirect), code exchange with PKCE, refresh, revocation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import string
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import jwt
import pytest

from twinbridge.app import create_app
from twinbridge.auth.service import ServiceClientService
from twinbridge.config import Settings
from twinbridge.db.migrate import upgrade
from twinbridge.platform.time import utc_now
from twinbridge.runtime import Runtime

# What itwin-cli sends (its default native client id and loopback redirect).
CLIENT_ID = "native-QJi5VlgxoujsCRwcGHMUtLGMZ"
REDIRECT_URI = "http://localhost:3301/signin-callback"
AUTHORIZATION_INFORMATION = (
    "/export/authorizationinformation?redirectUrl=http%3A%2F%2Flocalhost%3A3301%2Fcallback"
)
Headers = Callable[..., dict[str, str]]


def new_verifier() -> str:
    """128 characters of [A-Za-z0-9], as appauth's NodeCrypto.generateRandom(128) makes them."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(128))


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def encode_uri_component(value: str) -> str:
    """JavaScript's encodeURIComponent."""
    return quote(value, safe="-_.!~*'()")


def authorize_url(
    challenge: str, state: str = "aBcDe12345", scope: str = "itwin-platform offline_access", **extra: str
) -> str:
    """The URL appauth builds: these parameters in this order, encodeURIComponent-ed (space as %20)."""
    parameters = {
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "response_type": "code",
        "state": state,
        "scope": scope,
        "prompt": "consent",
        "access_type": "offline",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return "/connect/authorize?" + urlencode(
        parameters, quote_via=lambda value, *_: encode_uri_component(value)
    )


def redirect_query(response: httpx.Response, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    """The parameters of the 302 to the client's redirect_uri (each once)."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?"), location
    return {
        name: values[0] for name, values in parse_qs(urlsplit(location).query).items() if len(values) == 1
    }


async def code_for(client: httpx.AsyncClient, verifier: str, **kwargs: str) -> str:
    return redirect_query(await client.get(authorize_url(challenge_of(verifier), **kwargs)))["code"]


def exchange_body(
    code: str, verifier: str, redirect_uri: str = REDIRECT_URI, client_id: str = CLIENT_ID
) -> str:
    """appauth's code exchange body, fields in its order."""
    return urlencode(
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "code": code,
            "code_verifier": verifier,
        }
    )


def refresh_body(refresh_token: str, client_id: str = CLIENT_ID) -> str:
    """appauth's refresh body (it sends redirect_uri along)."""
    return urlencode(
        {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "refresh_token": refresh_token,
        }
    )


async def post_token(client: httpx.AsyncClient, body: str) -> httpx.Response:
    return await client.post(
        "/connect/token", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )


async def sign_in(client: httpx.AsyncClient, **kwargs: str) -> dict[str, Any]:
    verifier = new_verifier()
    code = await code_for(client, verifier, **kwargs)
    response = await post_token(client, exchange_body(code, verifier))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(body: dict[str, Any]) -> dict[str, str]:
    """The header a client builds: `${token_type} ${access_token}`."""
    return {"Authorization": f"{body['token_type']} {body['access_token']}"}


async def is_user_authorized(client: httpx.AsyncClient, headers: dict[str, str]) -> bool:
    response = await client.get(AUTHORIZATION_INFORMATION, headers=headers)
    assert response.status_code == 200, response.text
    authorized: bool = response.json()["authorizationInformation"]["isUserAuthorized"]
    return authorized


async def test_the_pkce_round_trip_signs_the_default_user_in_and_refreshes(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    verifier = new_verifier()
    authorized = await client.get(authorize_url(challenge_of(verifier), state="Zx9Qw8Er7T"))
    query = redirect_query(authorized)
    assert query["state"] == "Zx9Qw8Er7T"
    assert authorized.headers["cache-control"] == "no-store"

    exchanged = await post_token(client, exchange_body(query["code"], verifier))
    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.headers["cache-control"] == "no-store"
    tokens = exchanged.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == runtime.settings.token_ttl
    assert tokens["scope"] == "itwin-platform offline_access"
    assert "id_token" not in tokens  # only with scope openid
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert isinstance(claims["exp"], int)
    assert (claims["sub"], claims["client_id"], claims["iss"]) == (
        "developer",
        CLIENT_ID,
        "http://twinbridge.test",
    )

    # The access token works on the API, as the user "developer".
    created = await client.post("/itwins", json={"displayName": "Signed-in work"}, headers=bearer(tokens))
    assert created.status_code == 201, created.text
    listed = await client.get("/itwins", headers=bearer(tokens))
    assert [item["displayName"] for item in listed.json()["iTwins"]] == ["Signed-in work"]

    refreshed = await post_token(client, refresh_body(tokens["refresh_token"]))
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["token_type"] == "Bearer"
    assert second["refresh_token"] != tokens["refresh_token"]
    assert second["access_token"] != tokens["access_token"]
    assert second["scope"] == "itwin-platform offline_access"
    assert jwt.decode(second["access_token"], options={"verify_signature": False})["sub"] == "developer"
    listed_again = await client.get("/itwins", headers=bearer(second))
    assert [item["displayName"] for item in listed_again.json()["iTwins"]] == ["Signed-in work"]


async def test_a_used_refresh_token_is_refused_and_revokes_its_whole_sign_in(
    client: httpx.AsyncClient,
) -> None:
    tokens = await sign_in(client)
    assert await is_user_authorized(client, bearer(tokens))
    second = (await post_token(client, refresh_body(tokens["refresh_token"]))).json()

    replayed = await post_token(client, refresh_body(tokens["refresh_token"]))
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"
    assert "used already" in replayed.json()["error_description"]
    # The replay revoked the family: the newest refresh token is dead too, and so is the user's consent.
    newest = await post_token(client, refresh_body(second["refresh_token"]))
    assert newest.status_code == 400
    assert newest.json()["error"] == "invalid_grant"
    assert not await is_user_authorized(client, bearer(second))


async def test_signing_in_with_offline_access_is_consent_to_background_runs(
    client: httpx.AsyncClient,
) -> None:
    online = await sign_in(client, scope="itwin-platform", login_hint="olga")
    assert "refresh_token" not in online
    assert online["scope"] == "itwin-platform"
    assert not await is_user_authorized(client, bearer(online))

    offline = await sign_in(client, scope="itwin-platform offline_access", login_hint="olga")
    assert offline["refresh_token"]
    assert await is_user_authorized(client, bearer(online))  # the grant is the user's, whatever the token


async def test_login_hint_chooses_the_user_who_signs_in(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    created = await client.post("/itwins", json={"displayName": "Alice's"}, headers=auth_headers("alice"))
    assert created.status_code == 201
    tokens = await sign_in(client, login_hint="alice")
    assert jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"] == "alice"
    listed = await client.get("/itwins", headers=bearer(tokens))
    assert [item["displayName"] for item in listed.json()["iTwins"]] == ["Alice's"]


async def test_the_configured_sign_in_user_signs_in_without_a_login_hint(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(sign_in_user="carol@example.com")
    upgrade(settings)
    runtime = Runtime.create(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, runtime))
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            tokens = await sign_in(client)
    finally:
        await runtime.aclose()
    assert (
        jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"] == "carol@example.com"
    )


async def test_a_wrong_verifier_is_an_invalid_grant_and_leaves_the_code_usable(
    client: httpx.AsyncClient,
) -> None:
    verifier = new_verifier()
    code = await code_for(client, verifier)
    wrong = await post_token(client, exchange_body(code, new_verifier()))
    assert wrong.status_code == 400
    assert wrong.json() == {
        "error": "invalid_grant",
        "error_description": "code_verifier does not match the code_challenge.",
    }
    right = await post_token(client, exchange_body(code, verifier))
    assert right.status_code == 200


async def test_a_code_used_twice_is_refused_and_revokes_the_tokens_it_gave(client: httpx.AsyncClient) -> None:
    verifier = new_verifier()
    code = await code_for(client, verifier)
    first = await post_token(client, exchange_body(code, verifier))
    assert first.status_code == 200
    again = await post_token(client, exchange_body(code, verifier))
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert "used already" in again.json()["error_description"]
    refreshed = await post_token(client, refresh_body(first.json()["refresh_token"]))
    assert refreshed.json()["error"] == "invalid_grant"


async def test_a_code_exchanged_twice_at_once_signs_in_once_and_is_then_revoked(
    client: httpx.AsyncClient,
) -> None:
    verifier = new_verifier()
    code = await code_for(client, verifier)
    answers = await asyncio.gather(*(post_token(client, exchange_body(code, verifier)) for _ in range(2)))
    assert sorted(answer.status_code for answer in answers) == [200, 400]
    # The second use counts as a replay, whichever request came second: the sign-in is revoked.
    (signed_in,) = [answer.json() for answer in answers if answer.status_code == 200]
    refreshed = await post_token(client, refresh_body(signed_in["refresh_token"]))
    assert refreshed.json()["error"] == "invalid_grant"


async def test_an_expired_code_is_an_invalid_grant(client: httpx.AsyncClient, runtime: Runtime) -> None:
    verifier = new_verifier()
    code = await code_for(client, verifier)
    async with runtime.database.transaction() as transaction:
        await transaction.execute(
            "UPDATE authorization_codes SET expires_at = :moment",
            {"moment": utc_now() - timedelta(seconds=1)},
        )
    response = await post_token(client, exchange_body(code, verifier))
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "The authorization code has expired.",
    }


async def test_a_code_lives_sixty_seconds(client: httpx.AsyncClient, runtime: Runtime) -> None:
    before = utc_now()
    await code_for(client, new_verifier())
    async with runtime.database.transaction(write=False) as transaction:
        expires_at = await transaction.value("SELECT expires_at FROM authorization_codes")
    assert timedelta(seconds=59) <= expires_at - before <= timedelta(seconds=61)


async def test_the_redirect_uri_of_the_exchange_must_be_the_authorize_one(client: httpx.AsyncClient) -> None:
    verifier = new_verifier()
    code = await code_for(client, verifier)
    other = await post_token(
        client, exchange_body(code, verifier, redirect_uri="http://localhost:3000/signin-callback")
    )
    assert other.status_code == 400
    assert other.json() == {
        "error": "invalid_grant",
        "error_description": "redirect_uri is not the one of the authorization request.",
    }


async def test_a_code_is_bound_to_the_client_it_was_issued_to(client: httpx.AsyncClient) -> None:
    verifier = new_verifier()
    code = await code_for(client, verifier)
    response = await post_token(client, exchange_body(code, verifier, client_id="native-someone-else"))
    assert response.status_code == 400
    assert response.json()["error_description"] == "The authorization code was issued to another client."


async def test_an_unknown_code_and_missing_fields_are_rfc_errors(client: httpx.AsyncClient) -> None:
    unknown = await post_token(client, exchange_body("no-such-code", new_verifier()))
    assert unknown.json() == {
        "error": "invalid_grant",
        "error_description": "The authorization code is not valid.",
    }
    no_verifier = await client.post(
        "/connect/token", data={"grant_type": "authorization_code", "client_id": CLIENT_ID, "code": "x"}
    )
    assert no_verifier.status_code == 400
    assert no_verifier.json() == {
        "error": "invalid_request",
        "error_description": "code_verifier is required.",
    }
    no_client = await client.post(
        "/connect/token", data={"grant_type": "refresh_token", "refresh_token": "x"}
    )
    assert no_client.json() == {"error": "invalid_request", "error_description": "client_id is required."}


async def test_a_refresh_token_is_bound_to_its_client_and_may_narrow_the_scope(
    client: httpx.AsyncClient,
) -> None:
    tokens = await sign_in(client, scope="itwin-platform export:read offline_access")
    stranger = await post_token(
        client, refresh_body(tokens["refresh_token"], client_id="native-someone-else")
    )
    assert stranger.json() == {
        "error": "invalid_grant",
        "error_description": "The refresh token was issued to another client.",
    }
    wider = await client.post(
        "/connect/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": tokens["refresh_token"],
            "scope": "synchronization:modify",
        },
    )
    assert wider.json()["error"] == "invalid_scope"
    narrower = await client.post(
        "/connect/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": tokens["refresh_token"],
            "scope": "export:read",
        },
    )
    assert narrower.status_code == 200, narrower.text
    assert narrower.json()["scope"] == "export:read"
    # The sign-in keeps its scopes: the next refresh without `scope` has them all again.
    full = await post_token(client, refresh_body(narrower.json()["refresh_token"]))
    assert full.json()["scope"] == "itwin-platform export:read offline_access"


async def test_an_expired_refresh_token_is_an_invalid_grant(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tokens = await sign_in(client)
    async with runtime.database.transaction() as transaction:
        await transaction.execute(
            "UPDATE refresh_tokens SET expires_at = :moment", {"moment": utc_now() - timedelta(seconds=1)}
        )
    response = await post_token(client, refresh_body(tokens["refresh_token"]))
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "The refresh token has expired.",
    }


async def test_openid_adds_an_id_token_naming_user_client_and_nonce(client: httpx.AsyncClient) -> None:
    tokens = await sign_in(
        client, scope="openid profile itwin-platform", nonce="n-0S6_WzA2Mj", login_hint="dora"
    )
    key = jwt.PyJWK((await client.get("/.well-known/jwks.json")).json()["keys"][0]).key
    claims = jwt.decode(tokens["id_token"], key, algorithms=["RS256"], audience=CLIENT_ID)
    assert (claims["sub"], claims["iss"], claims["nonce"]) == (
        "dora",
        "http://twinbridge.test",
        "n-0S6_WzA2Mj",
    )
    assert isinstance(claims["auth_time"], int)


async def test_revoking_a_refresh_token_ends_its_sign_in_and_the_consent(client: httpx.AsyncClient) -> None:
    tokens = await sign_in(client)
    revoked = await client.post(
        "/connect/revocation",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token", "client_id": CLIENT_ID},
    )
    assert (revoked.status_code, revoked.content) == (200, b"")
    refused = await post_token(client, refresh_body(tokens["refresh_token"]))
    assert refused.json()["error"] == "invalid_grant"
    assert not await is_user_authorized(client, bearer(tokens))
    # RFC 7009 section 2.2: an unknown (or already revoked) token is no error.
    again = await client.post(
        "/connect/revocation", data={"token": tokens["refresh_token"], "client_id": CLIENT_ID}
    )
    assert again.status_code == 200


async def test_a_consent_survives_while_another_sign_in_of_the_user_lives(client: httpx.AsyncClient) -> None:
    laptop = await sign_in(client)
    desktop = await sign_in(client)
    await client.post("/connect/revocation", data={"token": laptop["refresh_token"], "client_id": CLIENT_ID})
    assert await is_user_authorized(client, bearer(desktop))
    assert (await post_token(client, refresh_body(desktop["refresh_token"]))).status_code == 200


# ---- authorize: what is refused, and how ------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"client_id": ""}, "client_id is required."),
        ({"client_id": "has space"}, "client_id must be 1 to 255 visible ASCII characters."),
        ({"redirect_uri": ""}, "redirect_uri is required."),
        (
            {"redirect_uri": "/signin-callback"},
            "redirect_uri must be an absolute http or https URL without a fragment.",
        ),
        (
            {"redirect_uri": "javascript:alert(1)"},
            "redirect_uri must be an absolute http or https URL without a fragment.",
        ),
        (
            {"redirect_uri": "http://localhost:3301/cb#top"},
            "redirect_uri must be an absolute http or https URL without a fragment.",
        ),
    ],
)
async def test_a_bad_client_or_redirect_uri_is_a_400_and_never_a_redirect(
    client: httpx.AsyncClient, change: dict[str, str], description: str
) -> None:
    parameters = dict(parse_qs(urlsplit(authorize_url(challenge_of(new_verifier()))).query))
    query = {name: values[0] for name, values in parameters.items()} | change
    response = await client.get("/connect/authorize", params=query)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json() == {"error": "invalid_request", "error_description": description}


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/",
        "https://evil.example/signin-callback",
        "http://localhost.evil.example:3301/signin-callback",
        "http://127.0.0.1@evil.example/signin-callback",
        "https://localhost:3301/signin-callback",  # loopback URIs are http (RFC 8252 section 7.3)
    ],
)
async def test_a_redirect_uri_not_registered_for_the_client_is_a_400_and_never_a_redirect(
    client: httpx.AsyncClient, redirect_uri: str
) -> None:
    response = await client.get(authorize_url(challenge_of(new_verifier()), redirect_uri=redirect_uri))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"].startswith(
        f"redirect_uri is not registered for client '{CLIENT_ID}'"
    )


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:49152/signin-callback",
        "http://[::1]:8080/cb",
        "http://localhost:3000/signin-callback",
        "http://localhost/callback",
    ],
)
async def test_loopback_redirect_uris_of_any_port_need_no_registration(
    client: httpx.AsyncClient, redirect_uri: str
) -> None:
    response = await client.get(authorize_url(challenge_of(new_verifier()), redirect_uri=redirect_uri))
    assert redirect_query(response, redirect_uri)["state"] == "aBcDe12345"


@pytest.fixture
async def client_with_registered_uris(
    make_settings: Callable[..., Settings],
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(sign_in_redirect_uris={"my-spa": ["https://app.example/signin-callback"]})
    upgrade(settings)
    runtime = Runtime.create(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, runtime))
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            yield client
    finally:
        await runtime.aclose()


async def test_a_registered_redirect_uri_is_followed_for_its_client_only(
    client_with_registered_uris: httpx.AsyncClient,
) -> None:
    registered = "https://app.example/signin-callback"
    challenge = challenge_of(new_verifier())
    own = await client_with_registered_uris.get(
        authorize_url(challenge, redirect_uri=registered, client_id="my-spa")
    )
    assert "code" in redirect_query(own, registered)
    other = await client_with_registered_uris.get(authorize_url(challenge, redirect_uri=registered))
    assert other.status_code == 400
    assert "location" not in other.headers
    longer = await client_with_registered_uris.get(
        authorize_url(challenge, redirect_uri=registered + "/../x", client_id="my-spa")
    )
    assert longer.status_code == 400  # compared as exact strings


def test_the_registered_redirect_uris_are_read_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWINBRIDGE_SIGN_IN_REDIRECT_URIS", '{"my-spa": ["https://app.example/cb"]}')
    assert Settings().sign_in_redirect_uris == {"my-spa": ["https://app.example/cb"]}


async def test_a_repeated_redirect_uri_is_a_400(client: httpx.AsyncClient) -> None:
    url = authorize_url(challenge_of(new_verifier())) + "&redirect_uri=https%3A%2F%2Fevil.example%2F"
    response = await client.get(url)
    assert response.status_code == 400
    assert (
        response.json()["error_description"] == "The parameter redirect_uri must not be given more than once."
    )


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"response_type": "token"}, "unsupported_response_type", "Only response_type=code is supported."),
        (
            {"code_challenge": ""},
            "invalid_request",
            "code_challenge is required: this issuer needs PKCE (RFC 7636).",
        ),
        (
            {"code_challenge_method": "plain"},
            "invalid_request",
            "code_challenge_method must be S256; transform algorithm not supported.",
        ),
        (
            {"code_challenge": "short"},
            "invalid_request",
            "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~].",
        ),
        ({"response_mode": "fragment"}, "invalid_request", "Only response_mode=query is supported."),
        (
            {"login_hint": " padded "},
            "invalid_request",
            "login_hint must be a user name of 1 to 255 printable characters without '|'.",
        ),
        (
            {"login_hint": "https://idp.example|frank"},
            "invalid_request",
            "login_hint must be a user name of 1 to 255 printable characters without '|'.",
        ),
    ],
)
async def test_a_bad_request_from_a_known_redirect_uri_is_redirected_with_the_error_and_state(
    client: httpx.AsyncClient, change: dict[str, str], error: str, description: str
) -> None:
    parameters = dict(parse_qs(urlsplit(authorize_url(challenge_of(new_verifier()), state="s-1")).query))
    query = {name: values[0] for name, values in parameters.items()} | change
    query = {name: value for name, value in query.items() if value}
    response = await client.get("/connect/authorize", params=query)
    assert redirect_query(response) == {"error": error, "error_description": description, "state": "s-1"}


async def test_an_unknown_scope_is_redirected_as_invalid_scope(client: httpx.AsyncClient) -> None:
    response = await client.get(authorize_url(challenge_of(new_verifier()), scope="itwin-platform admin"))
    query = redirect_query(response)
    assert query["error"] == "invalid_scope"
    assert query["error_description"].startswith("Unknown scope(s) admin; supported: ")


async def test_the_query_of_the_redirect_uri_is_kept(client: httpx.AsyncClient) -> None:
    redirect_uri = "http://127.0.0.1:8400/callback?tenant=7"
    url = authorize_url(challenge_of(new_verifier())).replace(
        "redirect_uri=http%3A%2F%2Flocalhost%3A3301%2Fsignin-callback",
        f"redirect_uri={encode_uri_component(redirect_uri)}",
    )
    response = await client.get(url)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert (location.netloc, location.path, query["tenant"], query["state"]) == (
        "127.0.0.1:8400",
        "/callback",
        ["7"],
        ["aBcDe12345"],
    )


async def test_a_service_client_cannot_be_signed_in_as_a_user(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    async with runtime.database.transaction() as transaction:
        await ServiceClientService(transaction).register("ci-bot")
    response = await client.get(authorize_url(challenge_of(new_verifier()), login_hint="ci-bot"))
    assert redirect_query(response)["error"] == "access_denied"
    own_id = await client.get(authorize_url(challenge_of(new_verifier()), login_hint=CLIENT_ID))
    assert redirect_query(own_id)["error"] == "access_denied"


@pytest.fixture
async def client_without_sign_in(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(sign_in_enabled=False)
    upgrade(settings)
    runtime = Runtime.create(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, runtime))
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            yield client
    finally:
        await runtime.aclose()


async def test_sign_in_turned_off_redirects_access_denied(client_without_sign_in: httpx.AsyncClient) -> None:
    response = await client_without_sign_in.get(authorize_url(challenge_of(new_verifier())))
    assert redirect_query(response) == {
        "error": "access_denied",
        "error_description": "Interactive sign-in is turned off on this server.",
        "state": "aBcDe12345",
    }
