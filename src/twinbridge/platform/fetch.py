"""Downloading from URLs that callers give us, safely.

Only http and https; loopback, private, link-local and other non-public addresses are refused unless
TWINBRIDGE_FETCH_ALLOW_PRIVATE allows them (tests, closed networks), on every redirect hop; time and size
are limited. A failure is a FetchError whose message names the URL's host and, when there is one, the
HTTP status — never the whole URL, which may carry a secret (SAS tokens).
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from urllib.parse import urljoin, urlparse

import httpx

DEFAULT_TIMEOUT_SECONDS = 120.0
DEFAULT_MAX_BYTES = 2 * 1024**3
MAX_REDIRECTS = 5


class FetchError(Exception):
    def __init__(self, host: str, reason: str, status: int | None = None) -> None:
        self.host = host
        self.status = status
        super().__init__(f"Downloading from {host} failed: {reason}")


def _check_address(host: str, port: int, allow_private: bool) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise FetchError(host, "the host name does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global and not allow_private:
            raise FetchError(
                host,
                f"{address} is a private or loopback address "
                "(set TWINBRIDGE_FETCH_ALLOW_PRIVATE to allow it)",
            )


def _checked(url: str, allow_private: bool) -> str:
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if parsed.scheme not in {"http", "https"}:
        raise FetchError(host or url[:40], f"only http and https URLs are accepted, not '{parsed.scheme}'")
    if not host:
        raise FetchError(url[:40], "the URL has no host")
    _check_address(host, parsed.port or (443 if parsed.scheme == "https" else 80), allow_private)
    return host


def download(
    url: str,
    target: Path,
    *,
    allow_private: bool,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> int:
    """Downloads `url` into `target`; returns the size. Redirects are followed, each hop checked again."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            host = _checked(url, allow_private)
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code >= 400:
                        raise FetchError(host, f"HTTP {response.status_code}", response.status_code)
                    size = 0
                    with target.open("wb") as handle:
                        for chunk in response.iter_bytes():
                            size += len(chunk)
                            if size > max_bytes:
                                raise FetchError(host, f"the file is larger than {max_bytes} bytes")
                            handle.write(chunk)
                    return size
            except httpx.TimeoutException:
                raise FetchError(host, f"no complete answer within {timeout:g} s") from None
            except httpx.HTTPError as failure:
                raise FetchError(host, str(failure) or type(failure).__name__) from None
    raise FetchError(urlparse(url).hostname or "", f"more than {MAX_REDIRECTS} redirects")
