"""A real HTTP server on loopback standing in for the places runs fetch from and write to (blob storage,
a manifest's file host): it serves the files it is given, trickles, redirects, and records PUTs; and for a
webhook's callback URL: it records POSTs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


class FileServer(ThreadingHTTPServer):
    """GET /<name>: `files[name]`; GET /trickle: a byte every 0.2 s for a minute; GET /to?<url>: a redirect
    there; PUT: recorded in `received` and answered `put_status`; POST: recorded in `posts` and answered
    with the next of `post_statuses` (200 once none is left); anything else 404."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.received: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.put_status = 201
        self.posts: list[Post] = []
        self.post_statuses: list[int] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FileServer

    def do_GET(self) -> None:
        self.server.requests.append(f"GET {self.path}")
        name = self.path.lstrip("/").partition("?")[0]
        if self.path.startswith("/to?"):
            self._answer(302, b"", {"location": self.path.removeprefix("/to?")})
        elif name == "trickle":
            self.send_response(200)
            self.send_header("content-length", "1000000")
            self.end_headers()
            try:
                for _ in range(300):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                return
        elif name in self.server.files:
            self._answer(200, self.server.files[name])
        else:
            self._answer(404, b"")

    def do_PUT(self) -> None:
        self.server.requests.append(f"PUT {self.path}")
        self.server.received[self.path] = self.rfile.read(int(self.headers.get("content-length", 0)))
        self._answer(self.server.put_status, b"")

    def do_POST(self) -> None:
        self.server.requests.append(f"POST {self.path}")
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.posts.append(Post(self.path, headers, body))
        statuses = self.server.post_statuses
        self._answer(statuses.pop(0) if statuses else 200, b"")

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()
