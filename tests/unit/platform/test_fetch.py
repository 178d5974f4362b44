"""Downloading caller-given URLs: schemes, private addresses, limits and errors that name the host."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from twinbridge.platform.fetch import FetchError, download


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/file":
            body = b"x" * 1000
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("location", "/file")
            self.send_header("content-length", "0")
            self.end_headers()
        else:
            self.send_response(403)
            self.send_header("content-length", "0")
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_address[1]}"
    http.shutdown()
    http.server_close()


def test_file_is_downloaded_when_private_addresses_are_allowed(server: str, tmp_path: Path) -> None:
    assert download(f"{server}/file", tmp_path / "f", allow_private=True) == 1000
    assert (tmp_path / "f").read_bytes() == b"x" * 1000


def test_redirects_are_followed(server: str, tmp_path: Path) -> None:
    assert download(f"{server}/moved", tmp_path / "f", allow_private=True) == 1000


def test_loopback_is_refused_by_default(server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="TWINBRIDGE_FETCH_ALLOW_PRIVATE") as raised:
        download(f"{server}/file", tmp_path / "f", allow_private=False)
    assert raised.value.host == "127.0.0.1"


@pytest.mark.parametrize("url", ["ftp://example.com/a.ifc", "file:///etc/passwd"])
def test_only_http_and_https_are_accepted(url: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        download(url, tmp_path / "f", allow_private=True)


def test_http_errors_name_the_host_and_status(server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError) as raised:
        download(f"{server}/secret?sig=abc", tmp_path / "f", allow_private=True)
    assert raised.value.status == 403
    assert str(raised.value) == "Downloading from 127.0.0.1 failed: HTTP 403"
    assert "sig=abc" not in str(raised.value)  # URLs may carry secrets


def test_files_over_the_size_limit_are_refused(server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="larger than 100 bytes"):
        download(f"{server}/file", tmp_path / "f", allow_private=True, max_bytes=100)
