"""Sign-in against `twinbridge serve` over real HTTP, with a browser as simple as the one of Bentley's CLI
tests: `curl -L` of the authorize URL, which must reach the client's loopback listener by redirects alone."""

from __future__ import annotations

import base64
import hashlib
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest

from tests.integration.conftest import Server

Cli = Callable[..., subprocess.CompletedProcess[str]]
CLIENT_ID = "native-QJi5VlgxoujsCRwcGHMUtLGMZ"


class LoopbackListener:
    """The CLI's redirect listener: records the query of each request, answers as node-cli-authorization."""

    def __init__(self) -> None:
        self.queries: list[dict[str, list[str]]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.queries.append(parse_qs(urlsplit(self.path).query))
                body = b"<h1>Sign in was successful!</h1>"
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_address[1]}/signin-callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback() -> Iterator[LoopbackListener]:
    listener = LoopbackListener()
    yield listener
    listener.close()


def _browse(url: str) -> None:
    """Opens `url` as a browser without a user would: follows the redirects, keeps no cookies."""
    if shutil.which("curl"):
        subprocess.run(["curl", "-sSL", "--max-time", "30", "-o", "/dev/null", url], check=True, timeout=60)
    else:
        httpx.get(url, follow_redirects=True, timeout=30)


def test_a_browser_following_redirects_completes_sign_in_and_the_tokens_work(
    server: Server, cli: Cli, loopback: LoopbackListener
) -> None:
    itwin_id = cli("itwins", "create", "Developer's plant", "--owner", "developer").stdout.strip()
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    parameters = {
        "redirect_uri": loopback.redirect_uri,
        "client_id": CLIENT_ID,
        "response_type": "code",
        "state": "k3Yq9ZpW2x",
        "scope": "itwin-platform offline_access",
        "prompt": "consent",
        "access_type": "offline",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    discovery = httpx.get(f"{server.url}/.well-known/openid-configuration").json()
    _browse(f"{discovery['authorization_endpoint']}?{urlencode(parameters, quote_via=quote)}")

    assert len(loopback.queries) == 1
    received = loopback.queries[0]
    assert received["state"] == ["k3Yq9ZpW2x"]
    token_endpoint = discovery["token_endpoint"]
    exchanged = httpx.post(
        token_endpoint,
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "redirect_uri": loopback.redirect_uri,
            "code": received["code"][0],
            "code_verifier": verifier,
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    headers = {"Authorization": f"{tokens['token_type']} {tokens['access_token']}"}
    itwin = httpx.get(f"{server.url}/itwins/{itwin_id}", headers=headers)
    assert itwin.status_code == 200, itwin.text
    assert itwin.json()["iTwin"]["displayName"] == "Developer's plant"

    refreshed = httpx.post(
        token_endpoint,
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "redirect_uri": loopback.redirect_uri,
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    again = httpx.get(
        f"{server.url}/itwins/{itwin_id}",
        headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
    )
    assert again.json()["iTwin"]["id"] == itwin_id
