"""Token validation against the built-in key, and against an external issuer served over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from tests.identity_provider import FakeIdentityProvider
from twinbridge.auth import tokens as tokens_module
from twinbridge.auth.issuer import BuiltInIssuer
from twinbridge.auth.keys import SigningKey, load_or_create_signing_key
from twinbridge.auth.tokens import TokenValidator, bearer_token
from twinbridge.platform.errors import Unauthenticated

BUILTIN = "http://twinbridge.test"


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return load_or_create_signing_key(tmp_path / "builtin")


@pytest.fixture
def issuer(key: SigningKey) -> BuiltInIssuer:
    return BuiltInIssuer(BUILTIN, key)


@pytest.fixture
def validator(key: SigningKey) -> TokenValidator:
    return TokenValidator([BUILTIN], BUILTIN, key, audience=None)


async def _reason(validator: TokenValidator, token: str, code: str = "Unauthorized") -> str:
    """The reason (details[0].message) of the 401 refusing `token`, which must carry the gateway's `code`."""
    with pytest.raises(Unauthenticated) as raised:
        await validator.validate(token)
    assert (raised.value.status_code, raised.value.code) == (401, code)
    assert raised.value.details[0].target == "Authorization"
    return raised.value.details[0].message


async def test_user_token_of_the_builtin_issuer_is_accepted(
    validator: TokenValidator, issuer: BuiltInIssuer
) -> None:
    token = issuer.mint(subject="alice", kind="user", scopes=["itwin-platform"], ttl=60).access_token
    caller = await validator.validate(token)
    assert (caller.subject, caller.kind, caller.scopes) == ("alice", "user", frozenset({"itwin-platform"}))


async def test_service_token_is_recognised_as_a_service(
    validator: TokenValidator, issuer: BuiltInIssuer
) -> None:
    token = issuer.mint(subject="ci-bot", kind="service", scopes=["export:read"], ttl=60).access_token
    caller = await validator.validate(token)
    assert (caller.subject, caller.kind) == ("ci-bot", "service")


async def test_expired_token_is_refused(validator: TokenValidator, issuer: BuiltInIssuer) -> None:
    token = issuer.mint(subject="alice", kind="user", scopes=["itwin-platform"], ttl=-120).access_token
    assert await _reason(validator, token) == "The token has expired."


async def test_token_signed_by_another_key_is_refused(
    validator: TokenValidator, tmp_path: Path, key: SigningKey
) -> None:
    other = load_or_create_signing_key(tmp_path / "other")
    forged = SigningKey(other.private_key, key.key_id)  # claims the real key id
    token = BuiltInIssuer(BUILTIN, forged).mint(subject="eve", kind="user", scopes=["itwin-platform"], ttl=60)
    assert await _reason(validator, token.access_token) == "The token's signature is not valid."


async def test_token_from_an_unknown_issuer_is_refused(validator: TokenValidator, key: SigningKey) -> None:
    token = BuiltInIssuer("https://elsewhere.example", key).mint(
        subject="alice", kind="user", scopes=["itwin-platform"], ttl=60
    )
    assert "is not accepted" in await _reason(validator, token.access_token)


async def test_token_without_an_accepted_scope_is_refused(
    validator: TokenValidator, issuer: BuiltInIssuer
) -> None:
    token = issuer.mint(subject="alice", kind="user", scopes=["openid"], ttl=60).access_token
    assert "required scopes" in await _reason(validator, token, "RequiredScopeMissing")


async def test_garbage_is_refused_as_malformed(validator: TokenValidator) -> None:
    assert (
        await _reason(validator, "not-a-jwt", "InvalidHeaderValue") == "The token is not a well-formed JWT."
    )


async def test_no_token_after_bearer_is_an_invalid_header_value(validator: TokenValidator) -> None:
    reason = await _reason(validator, bearer_token("Bearer "), "InvalidHeaderValue")
    assert reason == "The Authorization header has the Bearer scheme but no token."


async def test_two_words_after_bearer_are_an_invalid_header_value(validator: TokenValidator) -> None:
    reason = await _reason(validator, bearer_token("Bearer invalid token"), "InvalidHeaderValue")
    assert "one token" in reason


def test_the_token_is_what_follows_the_bearer_scheme_in_any_case() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer  abc.def.ghi ") == "abc.def.ghi"
    assert bearer_token("BEARER abc") == "abc"


def test_another_scheme_is_refused_naming_it_as_the_gateway_does() -> None:
    with pytest.raises(Unauthenticated) as raised:
        bearer_token("Basic dXNlcjpwYXNz")
    assert (raised.value.code, raised.value.message) == (
        "InvalidAuthorizationScheme",
        "Authorization scheme 'Basic' is not valid.",
    )
    with pytest.raises(Unauthenticated) as single_word:
        bearer_token("invalid-token")
    assert single_word.value.message == "Authorization scheme 'invalid-token' is not valid."


async def test_hs256_token_is_refused(validator: TokenValidator) -> None:
    token = jwt.encode(
        {"iss": BUILTIN, "sub": "x", "exp": time.time() + 60, "scope": "itwin-platform"}, "k" * 32
    )
    assert await _reason(validator, token) == "The token must be signed with RS256."


async def test_audience_is_required_when_configured(key: SigningKey) -> None:
    validator = TokenValidator([BUILTIN], BUILTIN, key, audience="twinbridge")
    wrong = BuiltInIssuer(BUILTIN, key, audience="someone-else").mint(
        subject="a", kind="user", scopes=["itwin-platform"], ttl=60
    )
    assert "audience" in await _reason(validator, wrong.access_token)
    right = BuiltInIssuer(BUILTIN, key, audience="twinbridge").mint(
        subject="a", kind="user", scopes=["itwin-platform"], ttl=60
    )
    assert (await validator.validate(right.access_token)).subject == "a"


@pytest.fixture
def identity_provider(tmp_path: Path) -> Iterator[FakeIdentityProvider]:
    provider = FakeIdentityProvider([load_or_create_signing_key(tmp_path / "idp-1")])
    yield provider
    provider.close()


async def test_external_issuer_keys_come_from_discovery_and_are_cached(
    identity_provider: FakeIdentityProvider, key: SigningKey
) -> None:
    validator = TokenValidator([BUILTIN, identity_provider.url], BUILTIN, key, audience=None)
    idp_issuer = BuiltInIssuer(identity_provider.url, identity_provider.keys[0])
    for user in ("alice", "bob"):
        token = idp_issuer.mint(subject=user, kind="user", scopes=["itwin-platform"], ttl=60).access_token
        assert (await validator.validate(token)).issuer == identity_provider.url
    assert identity_provider.jwks_requests == 1


async def test_unknown_key_id_refreshes_the_jwks_once(
    identity_provider: FakeIdentityProvider, key: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens_module, "REFRESH_INTERVAL_SECONDS", 0.0)
    validator = TokenValidator([identity_provider.url], BUILTIN, key, audience=None)
    first = BuiltInIssuer(identity_provider.url, identity_provider.keys[0])
    await validator.validate(
        first.mint(subject="a", kind="user", scopes=["itwin-platform"], ttl=60).access_token
    )
    rotated = load_or_create_signing_key(tmp_path / "idp-2")
    identity_provider.keys = [rotated]
    second = BuiltInIssuer(identity_provider.url, rotated)
    caller = await validator.validate(
        second.mint(subject="b", kind="user", scopes=["itwin-platform"], ttl=60).access_token
    )
    assert caller.subject == f"{identity_provider.url}|b"
    assert identity_provider.jwks_requests == 2


async def test_key_unknown_even_after_refresh_is_refused(
    identity_provider: FakeIdentityProvider, key: SigningKey, tmp_path: Path
) -> None:
    validator = TokenValidator([identity_provider.url], BUILTIN, key, audience=None)
    stranger = load_or_create_signing_key(tmp_path / "stranger")
    token = BuiltInIssuer(identity_provider.url, stranger).mint(
        subject="a", kind="user", scopes=["itwin-platform"], ttl=60
    )
    assert "is not published by its issuer" in await _reason(validator, token.access_token)


async def test_keys_are_fetched_from_a_private_issuer_but_not_from_a_private_host_it_names(
    identity_provider: FakeIdentityProvider, key: SigningKey
) -> None:
    # The configured issuer is trusted on loopback; a jwks_uri on another host is checked like any URL.
    identity_provider.jwks_uri = f"http://localhost:{identity_provider.server.server_address[1]}/keys"
    validator = TokenValidator([identity_provider.url], BUILTIN, key, audience=None)
    token = BuiltInIssuer(identity_provider.url, identity_provider.keys[0]).mint(
        subject="a", kind="user", scopes=["itwin-platform"], ttl=60
    )
    with pytest.raises(Unauthenticated) as raised:
        await validator.validate(token.access_token)
    assert raised.value.details[0].code == "IssuerUnavailable"
    assert identity_provider.jwks_requests == 0


async def test_a_caller_is_the_pair_of_issuer_and_subject(
    identity_provider: FakeIdentityProvider, key: SigningKey, issuer: BuiltInIssuer
) -> None:
    validator = TokenValidator([BUILTIN, identity_provider.url], BUILTIN, key, audience=None)
    external = BuiltInIssuer(identity_provider.url, identity_provider.keys[0])
    theirs = external.mint(subject="frank", kind="user", scopes=["itwin-platform"], ttl=60)
    ours = issuer.mint(subject="frank", kind="user", scopes=["itwin-platform"], ttl=60)
    service = external.mint(subject="robot", kind="service", scopes=["itwin-platform"], ttl=60)
    assert (await validator.validate(ours.access_token)).subject == "frank"
    assert (await validator.validate(theirs.access_token)).subject == f"{identity_provider.url}|frank"
    robot = await validator.validate(service.access_token)
    assert (robot.subject, robot.kind) == (f"{identity_provider.url}|robot", "service")


async def test_a_builtin_token_naming_a_qualified_caller_is_refused(
    validator: TokenValidator, issuer: BuiltInIssuer
) -> None:
    token = issuer.mint(subject="https://idp.example|frank", kind="user", scopes=["itwin-platform"], ttl=60)
    assert "names no caller with '|'" in await _reason(validator, token.access_token)
