"""The web console's files at /console (no token), its single-page fallback, the page shown before it is
built, and its sign-in through the built-in issuer on a server with a public (non-loopback) URL."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from twinbridge.app import create_app
from twinbridge.config import Settings
from twinbridge.db.migrate import upgrade
from twinbridge.runtime import Runtime

INDEX = "<!doctype html><title>twinbridge console</title><div id=app></div>"
SCRIPT = "console.log('console');"
WASM = b"\0asm\x01\0\0\0"
PUBLIC_URL = "https://twin.example.com"
CONSOLE_CLIENT = "twinbridge-console"
CONSOLE_REDIRECT = f"{PUBLIC_URL}/console/"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def built_console(directory: Path) -> Path:
    """A console as `npm run build` lays it out: index.html and hashed assets."""
    (directory / "assets").mkdir(parents=True)
    (directory / "index.html").write_text(INDEX)
    (directory / "assets" / "index-B2x9Qe1k.js").write_text(SCRIPT)
    (directory / "assets" / "index-Cz81_pQa.css").write_text("body { margin: 0 }")
    (directory / "assets" / "web-ifc-D4k2LmNo.wasm").write_bytes(WASM)
    (directory / "web-ifc.wasm").write_bytes(WASM)  # copied from public/: not hashed
    return directory


@pytest.fixture
async def serve(make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """A client of a server made with the given settings."""
    runtimes: list[Runtime] = []
    clients: list[httpx.AsyncClient] = []

    def open_client(**overrides: object) -> httpx.AsyncClient:
        settings = make_settings(**overrides)
        upgrade(settings)
        runtime = Runtime.create(settings)
        runtimes.append(runtime)
        transport = httpx.ASGITransport(app=create_app(settings, runtime))
        client = httpx.AsyncClient(transport=transport, base_url=settings.base_url)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.aclose()
    for runtime in runtimes:
        await runtime.aclose()


@pytest.fixture
def console(tmp_path: Path, serve: Callable[..., httpx.AsyncClient]) -> httpx.AsyncClient:
    return serve(console_dir=built_console(tmp_path / "console"))


@pytest.mark.parametrize("path", ["/console", "/console/"])
async def test_the_console_page_is_served_without_a_token(console: httpx.AsyncClient, path: str) -> None:
    response = await console.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"  # a rebuilt console shows at once


async def test_hashed_assets_are_served_with_their_types_and_kept_for_a_year(
    console: httpx.AsyncClient,
) -> None:
    script = await console.get("/console/assets/index-B2x9Qe1k.js")
    assert script.status_code == 200
    assert script.text == SCRIPT
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    style = await console.get("/console/assets/index-Cz81_pQa.css")
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    wasm = await console.get("/console/assets/web-ifc-D4k2LmNo.wasm")
    assert wasm.content == WASM
    assert wasm.headers["content-type"] == "application/wasm"  # WebAssembly.instantiateStreaming needs it


async def test_an_unhashed_file_is_served_but_revalidated(console: httpx.AsyncClient) -> None:
    response = await console.get("/console/web-ifc.wasm")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/wasm"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["etag"]
    again = await console.get("/console/web-ifc.wasm", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/console/itwins", "/console/imodels/1234/export", "/console/view/ifc"])
async def test_other_paths_of_the_console_open_the_console_page(
    console: httpx.AsyncClient, path: str
) -> None:
    response = await console.get(path)
    assert response.status_code == 200
    assert response.text == INDEX


@pytest.mark.parametrize(
    "path", ["/console/assets/index-Missing1.js", "/console/assets/gone", "/console/favicon.ico"]
)
async def test_a_missing_asset_is_not_found(console: httpx.AsyncClient, path: str) -> None:
    response = await console.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ResourceNotFound"


@pytest.mark.parametrize(
    "path", ["/console/assets/..%2F..%2Fsecret.txt", "/console/..%2Fsecret.txt", "/console/.hidden"]
)
async def test_no_file_outside_the_built_console_is_served(
    tmp_path: Path, serve: Callable[..., httpx.AsyncClient], path: str
) -> None:
    (tmp_path / "secret.txt").write_text("the content of a secret file")
    console = serve(console_dir=built_console(tmp_path / "console"))
    (tmp_path / "console" / ".hidden").write_text("the content of a secret file")
    response = await console.get(path)
    assert "content of a secret" not in response.text
    assert response.status_code == 404


async def test_a_server_without_a_built_console_says_to_run_make_setup(
    tmp_path: Path, serve: Callable[..., httpx.AsyncClient]
) -> None:
    empty = tmp_path / "never-built"
    client = serve(console_dir=empty)
    for path in ("/console", "/console/itwins", "/console/assets/index-B2x9Qe1k.js"):
        response = await client.get(path)
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("text/html")
        assert "make setup" in response.text
    assert (await client.get("/health")).status_code == 200


async def test_the_console_is_not_an_operation_of_the_openapi_document(console: httpx.AsyncClient) -> None:
    document = (await console.get("/openapi.json")).json()
    assert document["paths"]
    assert not [path for path in document["paths"] if path.startswith("/console")]


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


async def _authorize(
    client: httpx.AsyncClient, client_id: str, redirect_uri: str, verifier: str
) -> httpx.Response:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "itwin-platform offline_access openid",
        "state": "console-state",
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    return await client.get(f"/connect/authorize?{urlencode(query)}")


async def test_the_console_signs_in_on_a_public_url_without_registering_its_redirect(
    serve: Callable[..., httpx.AsyncClient],
) -> None:
    client = serve(public_url=PUBLIC_URL)
    verifier = secrets.token_urlsafe(48)
    authorized = await _authorize(client, CONSOLE_CLIENT, CONSOLE_REDIRECT, verifier)
    assert authorized.status_code == 302, authorized.text
    location = authorized.headers["location"]
    assert location.startswith(CONSOLE_REDIRECT + "?")
    query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    assert query["state"] == "console-state"

    # A public client: client_id and the PKCE verifier, no secret.
    exchanged = await client.post(
        "/connect/token",
        headers=FORM,
        data={
            "grant_type": "authorization_code",
            "client_id": CONSOLE_CLIENT,
            "code": query["code"],
            "redirect_uri": CONSOLE_REDIRECT,
            "code_verifier": verifier,
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    assert tokens["refresh_token"]
    listed = await client.get("/itwins", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert listed.status_code == 200, listed.text

    refreshed = await client.post(
        "/connect/token",
        headers=FORM,
        data={
            "grant_type": "refresh_token",
            "client_id": CONSOLE_CLIENT,
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    renewed = refreshed.json()

    # Signing out revokes the sign-in: its refresh token no longer renews anything.
    revoked = await client.post(
        "/connect/revocation",
        headers=FORM,
        data={"token": renewed["refresh_token"], "client_id": CONSOLE_CLIENT},
    )
    assert revoked.status_code == 200
    after = await client.post(
        "/connect/token",
        headers=FORM,
        data={
            "grant_type": "refresh_token",
            "client_id": CONSOLE_CLIENT,
            "refresh_token": renewed["refresh_token"],
        },
    )
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"),
    [
        ("some-other-spa", CONSOLE_REDIRECT),  # the console's page, but not the console
        (CONSOLE_CLIENT, "https://elsewhere.example/console/"),  # the console, sent elsewhere
        (CONSOLE_CLIENT, f"{PUBLIC_URL}/console/evil"),  # compared exactly
    ],
)
async def test_no_other_redirect_is_accepted_on_a_public_url(
    serve: Callable[..., httpx.AsyncClient], client_id: str, redirect_uri: str
) -> None:
    client = serve(public_url=PUBLIC_URL)
    refused = await _authorize(client, client_id, redirect_uri, secrets.token_urlsafe(48))
    assert refused.status_code == 400
    assert "location" not in refused.headers
    assert "not registered" in refused.json()["error_description"]
