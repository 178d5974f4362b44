"""An external OIDC identity provider for tests: discovery and a JWKS over real HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from twinbridge.auth.keys import SigningKey


class FakeIdentityProvider:
    """A real HTTP server publishing OIDC discovery and a JWKS whose keys can rotate."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self.keys = keys
        self.jwks_requests = 0
        self.jwks_uri: str | None = None  # where discovery says the keys are; None: here, at /keys
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.url, "jwks_uri": provider.jwks_uri or f"{provider.url}/keys"}
                elif self.path == "/keys":
                    provider.jwks_requests += 1
                    body = {"keys": [key.public_jwk() for key in provider.keys]}
                else:
                    self.send_error(404)
                    return
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
