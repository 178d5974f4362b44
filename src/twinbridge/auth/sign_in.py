"""Interactive sign-in at the built-in issuer: the authorization code grant with PKCE (RFC 6749 section 4.1,
RFC 7636), then refresh tokens that rotate (RFC 6749 section 6; each use replaces the token, and presenting a
used one revokes every token of its sign-in).

The embedded issuer asks nobody: it consents for the user named by `login_hint`, else for the configured
sign-in user. No client is registered: any client id is a public client (as Bentley's native clients are),
and PKCE S256 binds the code to the client that asked for it.

A sign-in with offline_access is the user's consent to background runs (their grant, auth/grants.py), as the
cloud service keeps the user's refresh token for them: the grant is recorded when the refresh token is issued
and revoked when a revocation leaves the user no refresh token to use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from twinbridge.auth.grants import GrantService
from twinbridge.auth.identity import is_builtin_name
from twinbridge.auth.issuer import BuiltInIssuer
from twinbridge.auth.redirects import is_http_url, is_registered_redirect_uri
from twinbridge.auth.repository import ServiceClientRepository, SignInRepository
from twinbridge.auth.scopes import OFFLINE_ACCESS, OPENID, PLATFORM_SCOPE, SIGN_IN_SCOPES
from twinbridge.db.database import Transaction
from twinbridge.db.models import AuthorizationCode, RefreshToken, RefreshTokenFamily
from twinbridge.platform.errors import OAuthError
from twinbridge.platform.ids import new_guid
from twinbridge.platform.time import utc_now

AUTHORIZATION_CODE_TTL_SECONDS = 60
# Used codes are kept this long after they expire, so that a code presented again still revokes its sign-in.
USED_CODE_MEMORY = timedelta(minutes=10)
DEFAULT_SCOPES = (PLATFORM_SCOPE,)
CLIENT_ID_SYNTAX = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as client ids are
# RFC 7636 section 4.1: 43 to 128 unreserved characters (an S256 challenge is 43 of them).
PKCE_SYNTAX = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def _digest(secret: str) -> str:
    """How codes and refresh tokens are stored: 256 random bits need no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def s256_challenge(code_verifier: str) -> str:
    """RFC 7636 section 4.2: BASE64URL(SHA256(ASCII(code_verifier))), without padding."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def redirect_location(redirect_uri: str, parameters: dict[str, str | None]) -> str:
    """`redirect_uri` with the parameters added to its query, which is kept (RFC 6749 section 3.1.2)."""
    parts = urlsplit(redirect_uri)
    added = urlencode(
        {name: value for name, value in parameters.items() if value is not None}, quote_via=quote
    )
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


class AuthorizationError(Exception):
    """An authorization request refused once its redirect_uri is trusted: the client learns it at that URI
    (RFC 6749 section 4.1.2.1), so it is answered with a redirect, never with a body."""

    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str) -> None:
        self.redirect_uri = redirect_uri
        self.state = state
        self.error = error
        self.description = description
        super().__init__(description)

    def location(self) -> str:
        return redirect_location(
            self.redirect_uri,
            {"error": self.error, "error_description": self.description, "state": self.state},
        )


class GrantReused(OAuthError):
    """invalid_grant for a code or refresh token presented after it was used: its sign-in is to be revoked,
    in a transaction of its own (the request's own rolls back with the error)."""

    def __init__(self, description: str, family_id: str | None) -> None:
        super().__init__("invalid_grant", description)
        self.family_id = family_id


@dataclass(frozen=True)
class AuthorizationRequest:
    """A valid request of `GET /connect/authorize` (the parameters @itwin/node-cli-authorization sends)."""

    client_id: str
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    code_challenge: str
    subject: str
    nonce: str | None

    def refuse(self, error: str, description: str) -> AuthorizationError:
        return AuthorizationError(self.redirect_uri, self.state, error, description)

    def location(self, code: str) -> str:
        """Where the browser goes with the code: the redirect_uri, `state` echoed as it came."""
        return redirect_location(self.redirect_uri, {"code": code, "state": self.state})


def read_authorization_request(
    query: Iterable[tuple[str, str]],
    default_subject: str,
    sign_in_enabled: bool = True,
    registered_redirect_uris: Mapping[str, Sequence[str]] | None = None,
) -> AuthorizationRequest:
    """The request's parameters, checked in the order RFC 6749 section 4.1.2.1 asks for.

    Until client_id and redirect_uri are known good (a redirect_uri registered for the client:
    auth/redirects.py), a problem is an OAuthError (answered 400, never redirected, or the endpoint would
    send browsers anywhere); after that, an AuthorizationError (redirected). Parameters the issuer does not
    use (prompt, access_type, …) are ignored.
    """
    values: dict[str, list[str]] = {}
    for name, value in query:
        if value != "":  # an empty parameter is an absent one (RFC 6749 section 3.1)
            values.setdefault(name, []).append(value)

    def single(name: str) -> str | None:
        found = values.get(name, [])
        if len(found) > 1:
            raise OAuthError("invalid_request", f"The parameter {name} must not be given more than once.")
        return found[0] if found else None

    client_id = single("client_id")
    if client_id is None:
        raise OAuthError("invalid_request", "client_id is required.")
    if CLIENT_ID_SYNTAX.fullmatch(client_id) is None:
        raise OAuthError("invalid_request", "client_id must be 1 to 255 visible ASCII characters.")
    redirect_uri = single("redirect_uri")
    if redirect_uri is None:
        raise OAuthError("invalid_request", "redirect_uri is required.")
    if not is_http_url(redirect_uri, fragment_allowed=False):
        raise OAuthError(
            "invalid_request", "redirect_uri must be an absolute http or https URL without a fragment."
        )
    if not is_registered_redirect_uri(client_id, redirect_uri, registered_redirect_uris or {}):
        raise OAuthError(
            "invalid_request",
            f"redirect_uri is not registered for client '{client_id}': use a loopback URI "
            "(http://127.0.0.1:<port>/…) or one of TWINBRIDGE_SIGN_IN_REDIRECT_URIS.",
        )
    state_values = values.get("state", [])
    state = state_values[0] if len(state_values) == 1 else None

    def refused(error: str, description: str) -> AuthorizationError:
        return AuthorizationError(redirect_uri, state, error, description)

    if len(state_values) > 1:
        raise refused("invalid_request", "The parameter state must not be given more than once.")
    try:
        response_type = single("response_type")
        response_mode = single("response_mode")
        code_challenge = single("code_challenge")
        code_challenge_method = single("code_challenge_method")
        scope = single("scope")
        login_hint = single("login_hint")
        nonce = single("nonce")
    except OAuthError as duplicated:
        raise refused(duplicated.error, duplicated.description) from None
    if response_type is None:
        raise refused("invalid_request", "response_type is required.")
    if response_type != "code":
        raise refused("unsupported_response_type", "Only response_type=code is supported.")
    if response_mode not in (None, "query"):
        raise refused("invalid_request", "Only response_mode=query is supported.")
    if code_challenge is None:
        raise refused("invalid_request", "code_challenge is required: this issuer needs PKCE (RFC 7636).")
    if code_challenge_method != "S256":
        raise refused(
            "invalid_request", "code_challenge_method must be S256; transform algorithm not supported."
        )
    if PKCE_SYNTAX.fullmatch(code_challenge) is None:
        raise refused("invalid_request", "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~].")
    scopes = tuple(dict.fromkeys(scope.split())) if scope else DEFAULT_SCOPES
    unknown = [name for name in scopes if name not in SIGN_IN_SCOPES]
    if unknown:
        raise refused(
            "invalid_scope",
            f"Unknown scope(s) {', '.join(unknown)}; supported: {' '.join(sorted(SIGN_IN_SCOPES))}.",
        )
    if not sign_in_enabled:
        raise refused("access_denied", "Interactive sign-in is turned off on this server.")
    subject = login_hint if login_hint is not None else default_subject
    if not is_builtin_name(subject):
        named_by = "login_hint" if login_hint is not None else "The configured sign-in user"
        raise refused(
            "invalid_request",
            f"{named_by} must be a user name of 1 to 255 printable characters without '|'.",
        )
    return AuthorizationRequest(client_id, redirect_uri, state, scopes, code_challenge, subject, nonce)


@dataclass(frozen=True)
class IssuedTokens:
    """What the token endpoint answers (RFC 6749 section 5.1)."""

    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    id_token: str | None = None


class SignInService:
    def __init__(
        self, transaction: Transaction, issuer: BuiltInIssuer, access_token_ttl: int, refresh_token_ttl: int
    ) -> None:
        self.transaction = transaction
        self.repository = SignInRepository(transaction)
        self.issuer = issuer
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl

    async def issue_code(self, request: AuthorizationRequest) -> str:
        """A new authorization code for the request's user (auto-consent), valid 60 seconds."""
        if request.subject == request.client_id:
            # A token whose sub equals its client_id is a service's token (auth/tokens.py).
            raise request.refuse("access_denied", "A user cannot sign in under the client's own id.")
        if await ServiceClientRepository(self.transaction).get(request.subject) is not None:
            raise request.refuse("access_denied", f"'{request.subject}' is a service client, not a user.")
        now = utc_now()
        await self.repository.delete_codes_expired_before(now - USED_CODE_MEMORY)
        code = secrets.token_urlsafe(32)
        await self.repository.add_code(
            AuthorizationCode(
                code_hash=_digest(code),
                client_id=request.client_id,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge,
                subject=request.subject,
                scopes=" ".join(request.scopes),
                nonce=request.nonce,
                expires_at=now + timedelta(seconds=AUTHORIZATION_CODE_TTL_SECONDS),
                created_at=now,
            )
        )
        return code

    async def exchange_code(
        self, client_id: str | None, code: str | None, redirect_uri: str | None, code_verifier: str | None
    ) -> IssuedTokens:
        """grant_type=authorization_code of a public client (RFC 6749 section 4.1.3, RFC 7636 section 4.6)."""
        if not client_id:
            raise OAuthError("invalid_request", "client_id is required.")
        if not code:
            raise OAuthError("invalid_request", "code is required.")
        if not code_verifier:
            raise OAuthError("invalid_request", "code_verifier is required.")
        code_hash = _digest(code)
        stored = await self.repository.code(code_hash)
        now = utc_now()
        if stored is None:
            raise OAuthError("invalid_grant", "The authorization code is not valid.")
        if stored.used_at is not None:
            raise GrantReused(
                "The authorization code was used already; the sign-in it started is revoked.",
                stored.family_id,
            )
        if stored.expires_at <= now:
            raise OAuthError("invalid_grant", "The authorization code has expired.")
        if stored.client_id != client_id:
            raise OAuthError("invalid_grant", "The authorization code was issued to another client.")
        if redirect_uri != stored.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri is not the one of the authorization request.")
        if PKCE_SYNTAX.fullmatch(code_verifier) is None or not hmac.compare_digest(
            s256_challenge(code_verifier), stored.code_challenge
        ):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge.")
        scopes = stored.scopes.split()
        family = (
            RefreshTokenFamily(new_guid(), stored.subject, client_id, stored.scopes, created_at=now)
            if OFFLINE_ACCESS in scopes
            else None
        )
        if not await self.repository.use_code(code_hash, now, family.id if family else None):
            # Another exchange used it meanwhile (and has committed: its update held ours back).
            winner = await self.repository.code(code_hash)
            raise GrantReused(
                "The authorization code was used already; the sign-in it started is revoked.",
                winner.family_id if winner else None,
            )
        refresh_token = None
        if family is not None:
            await self.repository.delete_dead_families(stored.subject, now)
            await self.repository.add_family(family)
            refresh_token = await self._add_refresh_token(family.id)
            await GrantService(self.transaction).grant(stored.subject)
        return self._issue(
            stored.subject,
            client_id,
            scopes,
            refresh_token,
            auth_time=int(stored.created_at.timestamp()),
            nonce=stored.nonce,
        )

    async def refresh(
        self, client_id: str | None, refresh_token: str | None, scope: str | None
    ) -> IssuedTokens:
        """grant_type=refresh_token (RFC 6749 section 6): the next access token and the next refresh token."""
        if not client_id:
            raise OAuthError("invalid_request", "client_id is required.")
        if not refresh_token:
            raise OAuthError("invalid_request", "refresh_token is required.")
        token_hash = _digest(refresh_token)
        found = await self.repository.token_with_family(token_hash)
        if found is None:
            raise OAuthError("invalid_grant", "The refresh token is not valid or has been revoked.")
        token, family = found
        now = utc_now()
        if family.client_id != client_id:
            raise OAuthError("invalid_grant", "The refresh token was issued to another client.")
        if token.used_at is not None:
            raise GrantReused(
                "The refresh token was used already; every token of its sign-in is revoked.", family.id
            )
        if token.expires_at <= now:
            raise OAuthError("invalid_grant", "The refresh token has expired.")
        granted = family.scopes.split()
        requested = list(dict.fromkeys(scope.split())) if scope else granted
        if not set(requested) <= set(granted):
            raise OAuthError("invalid_scope", f"The sign-in granted only: {' '.join(granted)}.")
        if not await self.repository.use_token(token_hash, now):
            raise GrantReused(
                "The refresh token was used already; every token of its sign-in is revoked.", family.id
            )
        await self.repository.delete_tokens_expired_before(family.id, now)
        next_token = await self._add_refresh_token(family.id)
        return self._issue(
            family.subject, client_id, requested, next_token, auth_time=int(family.created_at.timestamp())
        )

    async def revoke(self, client_id: str | None, token: str | None) -> None:
        """RFC 7009: revokes the sign-in of a refresh token. An unknown token is no error (section 2.2);
        access tokens cannot be revoked, they expire."""
        if not token:
            raise OAuthError("invalid_request", "token is required.")
        found = await self.repository.token_with_family(_digest(token))
        if found is None:
            return
        _, family = found
        if family.client_id != client_id:
            raise OAuthError("unauthorized_client", "The token was issued to another client.")
        await self.revoke_family(family.id)

    async def revoke_family(self, family_id: str) -> None:
        """Ends every refresh token of a sign-in; the user's consent to background runs goes with the last
        sign-in that still has a usable refresh token."""
        family = await self.repository.family(family_id)
        if family is None:
            return
        await self.repository.delete_family(family_id)
        if not await self.repository.has_live_token(family.subject, utc_now()):
            await GrantService(self.transaction).revoke(family.subject)

    async def _add_refresh_token(self, family_id: str) -> str:
        value = secrets.token_urlsafe(32)
        now = utc_now()
        await self.repository.add_token(
            RefreshToken(
                token_hash=_digest(value),
                family_id=family_id,
                expires_at=now + timedelta(seconds=self.refresh_token_ttl),
                created_at=now,
            )
        )
        return value

    def _issue(
        self,
        subject: str,
        client_id: str,
        scopes: list[str],
        refresh_token: str | None,
        *,
        auth_time: int,
        nonce: str | None = None,
    ) -> IssuedTokens:
        minted = self.issuer.mint(
            subject=subject, kind="user", scopes=scopes, ttl=self.access_token_ttl, client_id=client_id
        )
        id_token = (
            self.issuer.mint_id_token(
                subject=subject,
                client_id=client_id,
                ttl=self.access_token_ttl,
                auth_time=auth_time,
                nonce=nonce,
            )
            if OPENID in scopes
            else None
        )
        return IssuedTokens(minted.access_token, minted.expires_in, minted.scope, refresh_token, id_token)
