"""The one client for every request the server sends out: downloads of manifest and mapping files, PUTs to
callers' SAS URLs, the discovery and keys of external token issuers, webhook events to callback URLs.

Callers choose these URLs, so each request is guarded against server-side request forgery:

- http and https only, a URL that parses, with a valid host name;
- the host is resolved once per connection, every address it resolves to is checked (IPv4 and IPv6,
  IPv4 inside IPv6: mapped, compatible, 6to4, NAT64), and the connection goes to a checked address — never
  to a second resolution, which a rebinding DNS server could answer differently. TLS still verifies the
  certificate of the host name (SNI and verification use the name, the socket uses the address);
- loopback, private, link-local, shared and reserved addresses are refused unless
  TWINBRIDGE_FETCH_ALLOW_PRIVATE (local testing, closed networks); unspecified and multicast addresses
  always; hosts the operator configured (`trusted_hosts`, e.g. the accepted token issuers) are exempt;
- every redirect is checked the same way (uploads are never redirected);
- a transfer is bounded in size, in total time (TWINBRIDGE_TRANSFER_TIMEOUT) and in pace: once its grace
  period is over it must average TWINBRIDGE_TRANSFER_MIN_RATE bytes per second, so a source that trickles
  cannot hold a worker;
- no proxy from the environment is used (the proxy's address is not the one checked).

Errors name the URL's host and, when there is one, the HTTP status; never the whole URL, whose query may be
a secret (a SAS signature). httpx's own request log lines, which do print whole URLs, are silenced.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import httpcore
import httpx
import idna
import orjson

from twinbridge.platform.disk import require_free_space

if TYPE_CHECKING:
    from twinbridge.config import Settings

# httpx logs "HTTP Request: PUT <the whole URL>" at INFO: a SAS URL's signature would land in the logs.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Resolves a host name to its addresses; the default asks the system's resolver (getaddrinfo).
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_REDIRECTS = 5
MAX_URL_LENGTH = 8192
CHUNK_BYTES = 256 * 1024
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
HOST_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}")
PRIVATE_SWITCH = "set TWINBRIDGE_FETCH_ALLOW_PRIVATE to allow it"


class OutboundError(Exception):
    """A request the server sent out failed; the message names the host, never the URL."""

    def __init__(
        self, host: str, reason: str, status: int | None = None, action: str = "Downloading from"
    ) -> None:
        self.host = host
        self.reason = reason
        self.status = status
        super().__init__(f"{action} {host} failed: {reason}")


class OutboundRefused(OutboundError):
    """The request was not sent: its URL or the address its host resolves to is not allowed."""


class _AddressRefused(Exception):
    """Raised where a connection is made, turned into OutboundRefused by the operation that made it."""


@dataclass(frozen=True)
class TransferLimits:
    deadline: float = 1800.0  # seconds for the whole transfer, redirects and connections included
    min_rate: int = 32 * 1024  # bytes per second on average once `grace` is over; 0: no minimum
    grace: float = 10.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # the longest wait for one read or write


def url_problem(url: str) -> str | None:
    """Why `url` cannot be requested at all (checked without resolving anything); None when it can."""
    if len(url) > MAX_URL_LENGTH:
        return f"it is longer than {MAX_URL_LENGTH} characters"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as invalid:
        return f"it does not parse ({_without(str(invalid), url)})"
    if parsed.scheme not in {"http", "https"}:
        return f"only http and https URLs are accepted, not '{parsed.scheme}'"
    host = parsed.raw_host.decode("ascii")  # `.host` would decode punycode, and fail on a bad label
    if not host:
        return "it has no host"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"port {parsed.port} is out of range"
    if _ip(host) is None and not _valid_host_name(host):
        return "its host name is not valid"
    return None


def requestable_url(value: str | None) -> str | None:
    """A pydantic validator of a URL property the server will request: ValueError naming the problem."""
    problem = None if value is None else url_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _valid_host_name(host: str) -> bool:
    """RFC 1123 labels (underscores tolerated), and punycode labels that decode (IDNA)."""
    name = host.removesuffix(".")
    if not name or len(name) > 253:
        return False
    for label in name.split("."):
        if HOST_LABEL.fullmatch(label) is None:
            return False
        if label.lower().startswith("xn--"):
            try:
                idna.decode(label)
            except idna.IDNAError:
                return False
    return True


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to an IPv4 host (mapped, compatible, 6to4, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # ::a.b.c.d, deprecated IPv4-compatible
        return ipaddress.IPv4Address(int(address))
    return None


def address_refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why the server must not connect to `address`; None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_refusal(embedded, allow_private)
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if allow_private:
        return None
    if address.is_loopback:
        return f"{address} is a loopback address ({PRIVATE_SWITCH})"
    if address.is_link_local:
        return f"{address} is a link-local address ({PRIVATE_SWITCH})"
    if address.is_private:
        return f"{address} is a private address ({PRIVATE_SWITCH})"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return f"{address} is a site-local address ({PRIVATE_SWITCH})"
    if not address.is_global:
        return f"{address} is not a public address ({PRIVATE_SWITCH})"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class AddressGuard:
    """Resolves a host once and says which of its addresses may be connected to."""

    def __init__(self, allow_private: bool, trusted_hosts: Iterable[str], resolver: Resolver) -> None:
        self.allow_private = allow_private
        self.trusted_hosts = {host.lower().strip("[]") for host in trusted_hosts}
        self.resolver = resolver

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The checked addresses of `host`; _AddressRefused when it does not resolve or one is refused."""
        literal = _ip(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                found = [
                    ipaddress.ip_address(address.split("%")[0]) for address in await self.resolver(host, port)
                ]
            except (OSError, UnicodeError, ValueError):
                raise _AddressRefused("the host name does not resolve") from None
            if not found:
                raise _AddressRefused("the host name does not resolve")
        if host.lower() not in self.trusted_hosts:
            for address in found:  # every one: a rebinding answer may list a public address first
                refusal = address_refusal(address, self.allow_private)
                if refusal is not None:
                    raise _AddressRefused(refusal)
        return found


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects to the addresses the guard checked, not to the host name (no second resolution)."""

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        for address in await self.guard.addresses(host, port):
            try:
                return await self.inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise _AddressRefused("Unix sockets are not reachable from here")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), made once per process."""
    return httpx.create_ssl_context()


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose connections go through the guard."""

    def __init__(self, guard: AddressGuard, tls: ssl.SSLContext) -> None:
        super().__init__(verify=tls, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls, network_backend=GuardedNetworkBackend(guard)
        )


class _Pace:
    """Ends a transfer at its deadline, or earlier when it falls below the minimum average rate."""

    def __init__(self, limits: TransferLimits) -> None:
        self.limits = limits
        self.started = asyncio.get_running_loop().time()
        self.deadline = self.started + limits.deadline
        self.size = 0
        self.scope: asyncio.Timeout | None = None

    def expiry(self) -> float:
        if not self.limits.min_rate:
            return self.deadline
        return min(self.deadline, self.started + max(self.limits.grace, self.size / self.limits.min_rate))

    def timeout(self) -> asyncio.Timeout:
        self.scope = asyncio.timeout_at(self.expiry())
        return self.scope

    def advance(self, size: int) -> None:
        self.size += size
        if self.scope is not None:
            self.scope.reschedule(self.expiry())

    def reason(self) -> str:
        if asyncio.get_running_loop().time() >= self.deadline - 0.01:
            return f"the transfer did not end within {self.limits.deadline:g} s (TWINBRIDGE_TRANSFER_TIMEOUT)"
        return (
            f"the transfer was slower than {self.limits.min_rate} bytes per second "
            "(TWINBRIDGE_TRANSFER_MIN_RATE)"
        )


def _without(text: str, url: str) -> str:
    """`text` without `url` or its query, which may hold a secret."""
    text = text.replace(url, "the URL")
    query = url.partition("?")[2]
    return text.replace(query, "…") if query else text


def _host(url: str) -> str:
    """The host of `url` as sent (punycode), for messages."""
    try:
        return httpx.URL(url).raw_host.decode("ascii") or "the URL's host"
    except httpx.InvalidURL:
        return "the URL's host"


class OutboundClient:
    """Sends the server's own requests, guarded as the module says. Cheap: one httpx client per transfer."""

    def __init__(
        self,
        *,
        allow_private: bool,
        limits: TransferLimits | None = None,
        trusted_hosts: Iterable[str] = (),
        resolver: Resolver = system_resolver,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.guard = AddressGuard(allow_private, trusted_hosts, resolver)
        self.limits = limits or TransferLimits()
        self.tls = tls

    @classmethod
    def from_settings(cls, settings: Settings, trusted_hosts: Iterable[str] = ()) -> OutboundClient:
        return cls(
            allow_private=settings.fetch_allow_private,
            limits=TransferLimits(deadline=settings.transfer_timeout, min_rate=settings.transfer_min_rate),
            trusted_hosts=trusted_hosts,
        )

    def _client(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(self.limits.read_timeout, connect=self.limits.connect_timeout)
        return httpx.AsyncClient(
            transport=GuardedTransport(self.guard, self.tls or default_tls_context()),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )

    @staticmethod
    def _checked(url: str, action: str) -> str:
        problem = url_problem(url)
        if problem is not None:
            raise OutboundRefused(_host(url), problem, action=action)
        return _host(url)

    async def check_destination(self, url: str, action: str = "Uploading to") -> None:
        """Refuses (OutboundRefused) a URL that could not be requested, without sending anything."""
        host = self._checked(url, action)
        parsed = httpx.URL(url)
        try:
            await self.guard.addresses(host, parsed.port or (443 if parsed.scheme == "https" else 80))
        except _AddressRefused as refused:
            raise OutboundRefused(host, str(refused), action=action) from None

    async def download(self, url: str, target: Path, *, max_bytes: int, keep_free: int | None = None) -> int:
        """Downloads `url` into `target` and returns its size; redirects are followed, each one checked.

        `keep_free`: bytes that must stay free on `target`'s disk once a declared size is written.
        """

        def before_body(declared: int | None) -> None:
            if declared is not None and keep_free is not None:
                require_free_space(target.parent, declared + keep_free)

        with target.open("wb") as handle:
            return await self._get(url, handle.write, max_bytes, before_body=before_body)

    async def get_json(self, url: str, *, max_bytes: int = 1024 * 1024) -> Any:
        """The JSON document at `url` (an OIDC discovery document, a JWKS)."""
        received = bytearray()
        await self._get(url, received.extend, max_bytes, action="Requesting")
        try:
            return orjson.loads(received)
        except orjson.JSONDecodeError:
            raise OutboundError(_host(url), "the answer is not JSON", action="Requesting") from None

    async def _get(
        self,
        url: str,
        accept: Callable[[bytes], object],
        max_bytes: int,
        action: str = "Downloading from",
        before_body: Callable[[int | None], None] | None = None,
    ) -> int:
        host = _host(url)
        pace = _Pace(self.limits)
        try:
            async with pace.timeout(), self._client() as client:
                for _ in range(MAX_REDIRECTS + 1):
                    host = self._checked(url, action)
                    request = client.build_request("GET", url, headers={"accept-encoding": "identity"})
                    response = await client.send(request, stream=True)
                    try:
                        if response.is_redirect:
                            url = urljoin(url, response.headers.get("location", ""))
                            continue
                        if response.status_code >= 400:
                            status = response.status_code
                            raise OutboundError(host, f"HTTP {status}", status, action=action)
                        declared = response.headers.get("content-length")
                        size = int(declared) if declared and declared.isdigit() else None
                        if size is not None and size > max_bytes:
                            raise OutboundError(
                                host, f"the file is larger than {max_bytes} bytes", action=action
                            )
                        if before_body is not None:
                            before_body(size)
                        received = 0
                        async for chunk in response.aiter_raw(CHUNK_BYTES):
                            received += len(chunk)
                            if received > max_bytes:
                                raise OutboundError(
                                    host, f"the file is larger than {max_bytes} bytes", action=action
                                )
                            accept(chunk)
                            pace.advance(len(chunk))
                        return received
                    finally:
                        await response.aclose()
                raise OutboundError(host, f"more than {MAX_REDIRECTS} redirects", action=action)
        except TimeoutError:
            raise OutboundError(host, pace.reason(), action=action) from None
        except _AddressRefused as refused:
            raise OutboundRefused(host, str(refused), action=action) from None
        except httpx.TimeoutException:
            raise OutboundError(host, self._stalled(), action=action) from None
        except httpx.HTTPError as failure:
            raise OutboundError(
                host, _without(str(failure) or type(failure).__name__, url), action=action
            ) from None

    async def put_file(self, url: str, path: Path, headers: dict[str, str]) -> None:
        """PUTs the file at `path` to `url` (a SAS URL); a redirect is a failure, not followed."""
        action = "Uploading to"
        host = self._checked(url, action)
        size = (await asyncio.to_thread(path.stat)).st_size
        pace = _Pace(self.limits)

        async def content() -> AsyncIterator[bytes]:
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    yield chunk
                    pace.advance(len(chunk))

        with self._failures(host, url, action, pace.reason):
            async with pace.timeout(), self._client() as client:
                request = client.build_request(
                    "PUT", url, content=content(), headers={**headers, "content-length": str(size)}
                )
                response = await client.send(request, stream=True)
                await response.aclose()  # the body of an answer is not needed, and may be large
        if response.is_redirect:
            raise OutboundError(
                host, f"HTTP {response.status_code}, a redirect (not followed)", response.status_code, action
            )
        if response.status_code >= 400:
            raise OutboundError(host, f"HTTP {response.status_code}", response.status_code, action)

    async def post(self, url: str, content: bytes, headers: dict[str, str], *, seconds: float) -> int:
        """POSTs `content` to `url` (a webhook's callback) within `seconds`; the answer's status.

        A redirect is not followed (its status is the answer); the body of the answer is not read.
        """
        action = "Posting to"
        host = self._checked(url, action)
        with self._failures(host, url, action, lambda: f"no answer within {seconds:g} s"):
            async with asyncio.timeout(seconds), self._client() as client:
                request = client.build_request("POST", url, content=content, headers=headers)
                response = await client.send(request, stream=True)
                await response.aclose()
        return response.status_code

    @contextmanager
    def _failures(self, host: str, url: str, action: str, timed_out: Callable[[], str]) -> Iterator[None]:
        """What can go wrong with one request, as OutboundError (OutboundRefused: nothing was sent)."""
        try:
            yield
        except TimeoutError:
            raise OutboundError(host, timed_out(), action=action) from None
        except _AddressRefused as refused:
            raise OutboundRefused(host, str(refused), action=action) from None
        except httpx.TimeoutException:
            raise OutboundError(host, self._stalled(), action=action) from None
        except httpx.HTTPError as failure:
            raise OutboundError(
                host, _without(str(failure) or type(failure).__name__, url), action=action
            ) from None

    def _stalled(self) -> str:
        return f"nothing was received or sent for {self.limits.read_timeout:g} s"
