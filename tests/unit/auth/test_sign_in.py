"""The rules of sign-in without HTTP: PKCE, redirect URLs, reading the authorization request, and what the
service keeps and forgets in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from twinbridge.auth.grants import GrantService
from twinbridge.auth.sign_in import (
    AuthorizationError,
    AuthorizationRequest,
    SignInService,
    read_authorization_request,
    redirect_location,
    s256_challenge,
)
from twinbridge.platform.errors import OAuthError
from twinbridge.platform.time import utc_now
from twinbridge.runtime import Runtime

# RFC 7636 appendix B.
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
REDIRECT_URI = "http://localhost:3301/signin-callback"


def query(**changes: str) -> list[tuple[str, str]]:
    parameters = {
        "redirect_uri": REDIRECT_URI,
        "client_id": "native-app",
        "response_type": "code",
        "state": "st",
        "code_challenge": RFC_CHALLENGE,
        "code_challenge_method": "S256",
    }
    parameters.update(changes)
    return list(parameters.items())


def test_the_s256_challenge_is_the_one_of_rfc_7636() -> None:
    assert s256_challenge(RFC_VERIFIER) == RFC_CHALLENGE


def test_redirect_parameters_are_added_to_the_query_the_uri_has() -> None:
    location = redirect_location("https://app.example/cb?tenant=7&x=a%20b", {"code": "c", "state": "a b&c=d"})
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "app.example", "/cb")
    assert parse_qs(parts.query) == {"tenant": ["7"], "x": ["a b"], "code": ["c"], "state": ["a b&c=d"]}


def test_an_absent_state_is_left_out_of_the_redirect() -> None:
    assert redirect_location(REDIRECT_URI, {"code": "c", "state": None}) == f"{REDIRECT_URI}?code=c"


def test_a_request_without_scope_gets_itwin_platform_and_ignores_parameters_it_does_not_use() -> None:
    request = read_authorization_request(
        query(prompt="consent", access_type="offline", whatever="1", scope=""), "developer"
    )
    assert request == AuthorizationRequest(
        client_id="native-app",
        redirect_uri=REDIRECT_URI,
        state="st",
        scopes=("itwin-platform",),
        code_challenge=RFC_CHALLENGE,
        subject="developer",
        nonce=None,
    )


def test_repeated_scopes_count_once_in_their_order() -> None:
    request = read_authorization_request(query(scope="offline_access itwin-platform offline_access"), "u")
    assert request.scopes == ("offline_access", "itwin-platform")


def test_a_missing_method_is_refused_as_plain_pkce_is_not_supported() -> None:
    parameters = [item for item in query() if item[0] != "code_challenge_method"]
    with pytest.raises(AuthorizationError) as refused:
        read_authorization_request(parameters, "u")
    assert (refused.value.error, refused.value.state) == ("invalid_request", "st")


def test_a_missing_client_id_is_an_error_shown_not_redirected() -> None:
    parameters = [item for item in query() if item[0] != "client_id"]
    with pytest.raises(OAuthError) as refused:
        read_authorization_request(parameters, "u")
    assert (refused.value.status_code, refused.value.error) == (400, "invalid_request")


async def test_a_sign_in_is_kept_as_hashes_only(runtime: Runtime) -> None:
    request = read_authorization_request(query(scope="itwin-platform offline_access"), "alice")
    async with runtime.database.transaction() as transaction:
        service = SignInService(transaction, runtime.issuer, 600, 3600)
        code = await service.issue_code(request)
        issued = await service.exchange_code("native-app", code, REDIRECT_URI, RFC_VERIFIER)
        stored = await transaction.all("SELECT code_hash FROM authorization_codes")
        tokens = await transaction.all("SELECT token_hash, expires_at FROM refresh_tokens")
    assert issued.refresh_token is not None
    assert [row[0] for row in stored] == [hashlib.sha256(code.encode()).hexdigest()]
    assert tokens[0][0] == hashlib.sha256(issued.refresh_token.encode()).hexdigest()
    assert timedelta(seconds=3590) < tokens[0][1] - utc_now() <= timedelta(seconds=3600)


async def test_expired_codes_are_forgotten_when_new_ones_are_issued(runtime: Runtime) -> None:
    request = read_authorization_request(query(), "alice")
    async with runtime.database.transaction() as transaction:
        service = SignInService(transaction, runtime.issuer, 600, 3600)
        await service.issue_code(request)
        await transaction.execute(
            "UPDATE authorization_codes SET expires_at = :moment", {"moment": utc_now() - timedelta(hours=1)}
        )
        await service.issue_code(request)
        count = await transaction.value("SELECT COUNT(*) FROM authorization_codes")
    assert count == 1


async def test_revoking_one_sign_in_keeps_the_consent_of_another_and_the_last_one_ends_it(
    runtime: Runtime,
) -> None:
    request = read_authorization_request(query(scope="itwin-platform offline_access"), "alice")
    async with runtime.database.transaction() as transaction:
        service = SignInService(transaction, runtime.issuer, 600, 3600)
        first = await service.exchange_code(
            "native-app", await service.issue_code(request), REDIRECT_URI, RFC_VERIFIER
        )
        second = await service.exchange_code(
            "native-app", await service.issue_code(request), REDIRECT_URI, RFC_VERIFIER
        )
        await service.revoke("native-app", first.refresh_token)
        assert await GrantService(transaction).is_authorized("alice")
        await service.revoke("native-app", second.refresh_token)
        assert not await GrantService(transaction).is_authorized("alice")
        assert await transaction.value("SELECT COUNT(*) FROM refresh_token_families") == 0


async def test_a_new_sign_in_forgets_the_users_sign_ins_whose_tokens_all_expired(runtime: Runtime) -> None:
    request = read_authorization_request(query(scope="offline_access itwin-platform"), "alice")
    async with runtime.database.transaction() as transaction:
        service = SignInService(transaction, runtime.issuer, 600, 3600)
        await service.exchange_code(
            "native-app", await service.issue_code(request), REDIRECT_URI, RFC_VERIFIER
        )
        await transaction.execute(
            "UPDATE refresh_tokens SET expires_at = :moment", {"moment": utc_now() - timedelta(seconds=1)}
        )
        await service.exchange_code(
            "native-app", await service.issue_code(request), REDIRECT_URI, RFC_VERIFIER
        )
        families = await transaction.value("SELECT COUNT(*) FROM refresh_token_families")
        tokens = await transaction.value("SELECT COUNT(*) FROM refresh_tokens")
    assert (families, tokens) == (1, 1)


async def test_revoking_a_token_of_another_client_is_refused(runtime: Runtime) -> None:
    request = read_authorization_request(query(scope="offline_access"), "alice")
    async with runtime.database.transaction() as transaction:
        service = SignInService(transaction, runtime.issuer, 600, 3600)
        issued = await service.exchange_code(
            "native-app", await service.issue_code(request), REDIRECT_URI, RFC_VERIFIER
        )
        with pytest.raises(OAuthError) as refused:
            await service.revoke("other-app", issued.refresh_token)
    assert refused.value.error == "unauthorized_client"
