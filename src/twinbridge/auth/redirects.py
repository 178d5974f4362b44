"""Where the built-in issuer may send a browser: never anywhere a request names (no open redirect).

- A sign-in (authorization code with PKCE) redirects only to a `redirect_uri` registered for its client
  (RFC 6749 section 3.1.2.2): one of the client's URIs in TWINBRIDGE_SIGN_IN_REDIRECT_URIS, compared as
  exact strings, or a loopback URI (`http://127.0.0.1`, `http://[::1]` or `http://localhost`, any port and
  path), which RFC 8252 section 7.3 has native apps use without registering each port.
- The server's own web console (client `twinbridge-console`, served at /console) may also return to
  `{TWINBRIDGE_PUBLIC_URL}/console/` without being registered: on a loopback URL that is a loopback URI
  anyway, and on any other public URL it is this server's own page.
- An authorizationUrl's ticket redirects only to the http(s) URL bound into it when it was made (signed, so
  nobody can change it); both the making and the use of a ticket refuse any other scheme.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

MAX_REDIRECT_URL_LENGTH = 2048
CONSOLE_CLIENT_ID = "twinbridge-console"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def is_http_url(value: str, *, fragment_allowed: bool = True) -> bool:
    """An absolute http(s) URL with a host: nothing a browser would run (`javascript:`, `data:`) or read
    as a path of this server; no spaces, control characters or backslashes (which browsers read as `/`)."""
    if len(value) > MAX_REDIRECT_URL_LENGTH or not value.isprintable() or " " in value or "\\" in value:
        return False
    try:
        parts = urlsplit(value)
        port_is_valid = parts.port is None or parts.port > 0
    except ValueError:
        return False
    return (
        parts.scheme in {"http", "https"}
        and bool(parts.hostname)
        and port_is_valid
        and (fragment_allowed or not parts.fragment)
    )


def is_loopback_uri(value: str) -> bool:
    """A native app's loopback redirect (RFC 8252 section 7.3): http, a loopback host, any port."""
    parts = urlsplit(value)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and not parts.username


def is_registered_redirect_uri(
    client_id: str, redirect_uri: str, registered: Mapping[str, Sequence[str]]
) -> bool:
    """Whether the sign-in of `client_id` may redirect to `redirect_uri` (a valid http(s) URL already)."""
    return is_loopback_uri(redirect_uri) or redirect_uri in registered.get(client_id, ())


def registered_redirect_uris(
    configured: Mapping[str, Sequence[str]], public_url: str
) -> dict[str, list[str]]:
    """The configured redirect URIs by client (TWINBRIDGE_SIGN_IN_REDIRECT_URIS), and the web console's."""
    registered = {client_id: list(uris) for client_id, uris in configured.items()}
    console = registered.setdefault(CONSOLE_CLIENT_ID, [])
    console.append(f"{public_url.rstrip('/')}/console/")
    return registered
