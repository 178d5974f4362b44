"""The outbound client: which URLs and addresses it refuses, that it connects to the address it checked,
redirects, limits of size, time and pace, and errors and logs that never show a URL's query."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from twinbridge.platform.disk import NotEnoughDiskSpace
from twinbridge.platform.outbound import (
    OutboundClient,
    OutboundError,
    OutboundRefused,
    TransferLimits,
    address_refusal,
    url_problem,
)

NAME = "files.example.test"  # resolvable only through the tests' resolver


class Handler(BaseHTTPRequestHandler):
    """/file: 1000 bytes; /moved: to /file; /to?url: to that URL; /trickle: a byte every 0.2 s; /silent:
    headers, then nothing; PUT: stored in the server's `received` (/redirected: 307, /secret: 403); anything
    else: 403."""

    server: Server

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers["host"])
        if self.path == "/file":
            self._answer(200, b"x" * 1000)
        elif self.path == "/moved":
            self._answer(302, b"", {"location": "/file"})
        elif self.path.startswith("/to?"):
            self._answer(302, b"", {"location": self.path.removeprefix("/to?")})
        elif self.path == "/json":
            self._answer(200, b'{"keys": []}', {"content-type": "application/json"})
        elif self.path in {"/trickle", "/silent"}:
            self.send_response(200)
            self.send_header("content-length", "1000000")
            self.end_headers()
            try:
                for _ in range(300):
                    if self.path == "/trickle":
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                return
        else:
            self._answer(403, b"")

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.received[self.path] = body
        if self.path.startswith("/redirected"):
            self._answer(307, b"", {"location": "/elsewhere"})
        elif self.path.startswith("/secret"):
            self._answer(403, b"")
        else:
            self._answer(201, b"")

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.hosts: list[str] = []
        self.received: dict[str, bytes] = {}
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


class CountingResolver:
    """Resolves NAME (and only it) to `addresses`, counting the questions."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.questions: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.questions.append((host, port))
        if host != NAME:
            raise OSError("unknown host")
        return self.addresses


def client(allow_private: bool = True, **options: object) -> OutboundClient:
    return OutboundClient(allow_private=allow_private, **options)  # type: ignore[arg-type]


# Addresses


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),
        ("100.64.0.1", "not a public"),
        ("192.0.2.1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("64:ff9b::7f00:1", "loopback"),  # NAT64
        ("2002:7f00:1::", "loopback"),  # 6to4
        ("::ffff:169.254.169.254", "link-local"),
    ],
)
def test_non_public_addresses_are_refused_saying_what_they_are(address: str, kind: str) -> None:
    refusal = address_refusal(ipaddress.ip_address(address), allow_private=False)
    assert refusal is not None
    assert kind in refusal


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.1", "169.254.1.1", "::ffff:127.0.0.1"])
def test_allowing_private_addresses_allows_loopback_private_and_link_local(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=True) is None


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "::ffff:0.0.0.0"])
def test_unspecified_and_multicast_addresses_are_refused_even_when_private_ones_are_allowed(
    address: str,
) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=True) is not None


# URLs


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1", "does not parse"),
        ("http://☃.com/", "does not parse"),
        ("http://xn--zz.com/a", "host name is not valid"),
        ("http://a..b/", "host name is not valid"),
        ("http://" + "a" * 64 + ".com/", "host name is not valid"),
        ("http://exa%mple.com/", "host name is not valid"),
        ("http:///path", "no host"),
        ("ftp://example.com/a.ifc", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://example.com:99999/", "out of range"),
        ("https://example.com/" + "a" * 9000, "longer than"),
    ],
)
def test_urls_that_cannot_be_requested_are_named_with_the_reason(url: str, reason: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    "url",
    [
        "https://account.blob.core.windows.net/container/out.ifc?sv=2022-11-02&sig=abc%2F",
        "http://[2001:db8::1]:8080/file",
        "http://bücher.example/mapping.json",
        "http://10.0.0.1/x",  # syntax only: the address is checked when connecting
    ],
)
def test_well_formed_http_urls_have_no_problem(url: str) -> None:
    assert url_problem(url) is None


# Connecting


async def test_a_file_is_downloaded_when_private_addresses_are_allowed(
    server: Server, tmp_path: Path
) -> None:
    size = await client().download(f"http://127.0.0.1:{server.port}/file", tmp_path / "f", max_bytes=10_000)
    assert size == 1000
    assert (tmp_path / "f").read_bytes() == b"x" * 1000


async def test_loopback_is_refused_by_default_naming_the_switch(server: Server, tmp_path: Path) -> None:
    with pytest.raises(OutboundRefused) as raised:
        await client(False).download(f"http://127.0.0.1:{server.port}/file", tmp_path / "f", max_bytes=10_000)
    assert raised.value.host == "127.0.0.1"
    assert "is a loopback address" in str(raised.value)
    assert "TWINBRIDGE_FETCH_ALLOW_PRIVATE" in str(raised.value)
    assert server.hosts == []  # nothing was sent


async def test_the_host_is_resolved_once_and_the_connection_goes_to_the_checked_address(
    server: Server, tmp_path: Path
) -> None:
    resolver = CountingResolver(["127.0.0.1"])
    downloader = client(resolver=resolver)
    await downloader.download(f"http://{NAME}:{server.port}/file", tmp_path / "f", max_bytes=10_000)
    # The system's resolver does not know NAME: the socket went to the address the guard resolved and checked.
    assert resolver.questions == [(NAME, server.port)]
    assert server.hosts == [f"{NAME}:{server.port}"]  # and the request still names the host


async def test_every_resolved_address_is_checked_not_only_the_first(server: Server, tmp_path: Path) -> None:
    downloader = client(False, resolver=CountingResolver(["93.184.216.34", "127.0.0.1"]))
    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1 is a loopback address"):
        await downloader.download(f"http://{NAME}:{server.port}/file", tmp_path / "f", max_bytes=10_000)


async def test_a_host_that_does_not_resolve_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutboundRefused, match="does not resolve"):
        await client(resolver=CountingResolver([])).download(
            "http://nowhere.test/f", tmp_path / "f", max_bytes=1
        )


async def test_a_trusted_host_may_be_private_but_its_redirect_to_loopback_is_refused(
    server: Server, tmp_path: Path
) -> None:
    downloader = client(False, resolver=CountingResolver(["127.0.0.1"]), trusted_hosts=[NAME])
    base = f"http://{NAME}:{server.port}"
    assert await downloader.download(f"{base}/file", tmp_path / "f", max_bytes=10_000) == 1000
    target = f"http://127.0.0.1:{server.port}/file"
    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1 is a loopback address"):
        await downloader.download(f"{base}/to?{target}", tmp_path / "f", max_bytes=10_000)
    assert server.hosts == [f"{NAME}:{server.port}"] * 2  # the redirect's target was never asked


async def test_redirects_are_followed_and_each_one_checked(server: Server, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{server.port}"
    assert await client().download(f"{base}/moved", tmp_path / "f", max_bytes=10_000) == 1000
    with pytest.raises(OutboundRefused, match="only http and https"):
        await client().download(f"{base}/to?file:///etc/passwd", tmp_path / "f", max_bytes=10_000)


async def test_https_verifies_the_host_name_while_connecting_to_the_checked_address(tmp_path: Path) -> None:
    certificate, key = _self_signed(NAME)
    (tmp_path / "cert.pem").write_bytes(certificate)
    (tmp_path / "key.pem").write_bytes(key)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    trusting = ssl.create_default_context(cafile=tmp_path / "cert.pem")
    server = Server(tls=served)
    try:
        resolver = CountingResolver(["127.0.0.1"])
        downloader = client(resolver=resolver, tls=trusting)
        assert (
            await downloader.download(f"https://{NAME}:{server.port}/file", tmp_path / "f", max_bytes=10**4)
            == 1000
        )
        assert resolver.questions == [(NAME, server.port)]
        # The certificate names NAME, not 127.0.0.1: asked by address, verification fails.
        with pytest.raises(OutboundError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            await downloader.download(
                f"https://127.0.0.1:{server.port}/file", tmp_path / "f", max_bytes=10**4
            )
    finally:
        server.close()


def _self_signed(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


# Limits


async def test_files_over_the_size_limit_are_refused(server: Server, tmp_path: Path) -> None:
    with pytest.raises(OutboundError, match="larger than 100 bytes"):
        await client().download(f"http://127.0.0.1:{server.port}/file", tmp_path / "f", max_bytes=100)


async def test_a_trickling_source_is_cut_off_at_the_deadline(server: Server, tmp_path: Path) -> None:
    downloader = client(limits=TransferLimits(deadline=1.0, min_rate=0))
    started = time.monotonic()
    with pytest.raises(OutboundError, match=r"did not end within 1 s \(TWINBRIDGE_TRANSFER_TIMEOUT\)"):
        await downloader.download(f"http://127.0.0.1:{server.port}/trickle", tmp_path / "f", max_bytes=10**7)
    assert time.monotonic() - started < 3


async def test_a_source_below_the_minimum_rate_is_cut_off_after_the_grace_period(
    server: Server, tmp_path: Path
) -> None:
    downloader = client(limits=TransferLimits(deadline=60, min_rate=1000, grace=0.5))
    started = time.monotonic()
    with pytest.raises(
        OutboundError, match=r"slower than 1000 bytes per second \(TWINBRIDGE_TRANSFER_MIN_RATE\)"
    ):
        await downloader.download(f"http://127.0.0.1:{server.port}/trickle", tmp_path / "f", max_bytes=10**7)
    assert time.monotonic() - started < 3


async def test_a_source_that_sends_nothing_is_cut_off_by_the_minimum_rate(
    server: Server, tmp_path: Path
) -> None:
    downloader = client(limits=TransferLimits(deadline=60, min_rate=1000, grace=0.5, read_timeout=60))
    started = time.monotonic()
    with pytest.raises(OutboundError, match="TWINBRIDGE_TRANSFER_MIN_RATE"):
        await downloader.download(f"http://127.0.0.1:{server.port}/silent", tmp_path / "f", max_bytes=10**7)
    assert time.monotonic() - started < 3


async def test_a_declared_size_that_would_fill_the_disk_is_refused_before_writing(
    server: Server, tmp_path: Path
) -> None:
    with pytest.raises(NotEnoughDiskSpace):
        await client().download(
            f"http://127.0.0.1:{server.port}/file", tmp_path / "f", max_bytes=10_000, keep_free=2**62
        )
    assert (tmp_path / "f").read_bytes() == b""


# Uploads


async def test_a_file_is_put_with_its_length_and_headers(server: Server, tmp_path: Path) -> None:
    (tmp_path / "out.ifc").write_bytes(b"ISO-10303-21;" * 100)
    url = f"http://127.0.0.1:{server.port}/container/out.ifc?sig=secret"
    await client().put_file(url, tmp_path / "out.ifc", {"x-ms-blob-type": "BlockBlob"})
    assert server.received["/container/out.ifc?sig=secret"] == b"ISO-10303-21;" * 100


async def test_a_put_to_loopback_is_refused_and_nothing_is_sent(server: Server, tmp_path: Path) -> None:
    (tmp_path / "out.ifc").write_bytes(b"data")
    url = f"http://127.0.0.1:{server.port}/container/out.ifc?sig=secret"
    with pytest.raises(OutboundRefused) as raised:
        await client(False).put_file(url, tmp_path / "out.ifc", {})
    assert str(raised.value).startswith("Uploading to 127.0.0.1 failed: 127.0.0.1 is a loopback address")
    assert server.received == {}
    with pytest.raises(OutboundRefused, match="loopback"):
        await client(False).check_destination(url)


async def test_an_upload_answered_with_a_redirect_fails_and_is_not_followed(
    server: Server, tmp_path: Path
) -> None:
    (tmp_path / "out.ifc").write_bytes(b"data")
    with pytest.raises(OutboundError, match="HTTP 307, a redirect"):
        await client().put_file(f"http://127.0.0.1:{server.port}/redirected", tmp_path / "out.ifc", {})
    assert list(server.received) == ["/redirected"]


# Secrets


async def test_errors_and_logs_never_show_the_query_of_a_url(
    server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "out.ifc").write_bytes(b"data")
    failures = []
    for url in (
        f"http://127.0.0.1:{server.port}/secret?sig=s3cr3t",  # HTTP 403
        "http://127.0.0.1:9/nothing-listens?sig=s3cr3t",  # connection refused
    ):
        for attempt in (
            client().download(url, tmp_path / "f", max_bytes=100),
            client().put_file(url, tmp_path / "out.ifc", {}),
        ):
            with pytest.raises(OutboundError) as raised:
                await attempt
            failures.append(str(raised.value))
    assert failures[0] == "Downloading from 127.0.0.1 failed: HTTP 403"
    assert failures[1] == "Uploading to 127.0.0.1 failed: HTTP 403"
    assert all("s3cr3t" not in failure for failure in failures), failures
    assert "s3cr3t" not in caplog.text


async def test_json_documents_are_read_for_token_issuers(server: Server) -> None:
    assert await client().get_json(f"http://127.0.0.1:{server.port}/json") == {"keys": []}
    with pytest.raises(OutboundError, match=r"Requesting 127\.0\.0\.1 failed: HTTP 403"):
        await client().get_json(f"http://127.0.0.1:{server.port}/missing")
