"""Where the built-in issuer may send a browser: http(s) URLs only, and for sign-in only registered ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from twinbridge.auth.grants import authorization_url
from twinbridge.auth.issuer import BuiltInIssuer
from twinbridge.auth.keys import load_or_create_signing_key
from twinbridge.auth.redirects import is_http_url, is_registered_redirect_uri


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/",
        "/relative",
        "http://",
        "https:\\\\evil.example",
        "http://evil.example/\\@good",
        "http://good.example/ path",
        "http://good.example/\x00",
        "ftp://files.example/",
        "https://evil.example:0/",
        "http://" + "a" * 2048 + ".example/",
    ],
)
def test_anything_but_an_absolute_http_url_is_no_redirect_target(value: str) -> None:
    assert not is_http_url(value)


def test_http_and_https_urls_with_a_host_are_redirect_targets() -> None:
    assert is_http_url("https://app.example/callback?x=1#done")
    assert is_http_url("HTTP://localhost:3301/callback")
    assert not is_http_url("https://app.example/callback#done", fragment_allowed=False)


def test_a_client_may_use_loopback_uris_and_its_own_registered_ones() -> None:
    registered = {"my-spa": ["https://app.example/cb"]}
    assert is_registered_redirect_uri("any", "http://127.0.0.1:51234/cb", registered)
    assert is_registered_redirect_uri("any", "http://[::1]/cb", registered)
    assert is_registered_redirect_uri("my-spa", "https://app.example/cb", registered)
    assert not is_registered_redirect_uri("other", "https://app.example/cb", registered)
    assert not is_registered_redirect_uri("my-spa", "https://app.example/cb?x", registered)
    assert not is_registered_redirect_uri("any", "http://user@127.0.0.1/cb", registered)


def test_a_grant_ticket_is_never_made_for_a_url_that_is_not_http(tmp_path: Path) -> None:
    issuer = BuiltInIssuer("http://twinbridge.test", load_or_create_signing_key(tmp_path))
    with pytest.raises(ValueError, match="http"):
        authorization_url(issuer, "alice", "javascript:alert(1)")
    assert "ticket=" in authorization_url(issuer, "alice", "https://app.example/done")
