"""Access-token validation: RS256, issuer, expiry, audience when set, signature by the issuer's JWKS.

A refused header or token is a 401 with the API gateway's code (platform.errors): InvalidAuthorizationScheme
(not Bearer), InvalidHeaderValue (no token, or not a JWT at all), Unauthorized (a JWT that is refused) or
RequiredScopeMissing; the reason is in `details`.

Keys of external issuers come from OIDC discovery and are cached; a token naming an unknown key id
triggers one refresh (at most once per REFRESH_INTERVAL per issuer, so bad tokens cannot hammer it).
The built-in issuer's key is known locally and never fetched over HTTP. Discovery and keys are fetched
through the server's one outbound client (platform.outbound): the configured issuers' hosts are trusted
even on private addresses (the operator named them), any other host, e.g. a `jwks_uri` elsewhere, is
checked as every outbound request is.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import jwt
import structlog

from twinbridge.auth.identity import MAX_NAME_LENGTH, SEPARATOR, caller_name
from twinbridge.auth.issuer import BACKGROUND_RUNS_CLAIM
from twinbridge.auth.keys import SigningKey
from twinbridge.auth.scopes import ACCEPTED_SCOPES, parse_scopes
from twinbridge.platform.errors import (
    ErrorDetail,
    InvalidAccessToken,
    InvalidAuthorizationScheme,
    InvalidHeaderValue,
    RequiredScopeMissing,
)
from twinbridge.platform.outbound import OutboundClient, OutboundError, TransferLimits

logger = structlog.get_logger(__name__)

REFRESH_INTERVAL_SECONDS = 10.0
# A request waits for keys: fetching them must be quick.
ISSUER_REQUEST_LIMITS = TransferLimits(deadline=10.0, min_rate=0, read_timeout=10.0)
LEEWAY_SECONDS = 30
VALIDATED_CACHE_SIZE = 10_000
BEARER_PREFIX = "Bearer "
# RFC 6750 section 2.1: the characters of a bearer token (a JWT is three such parts joined by dots).
TOKEN_SYNTAX = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass(frozen=True)
class Caller:
    """Who is calling: a user or a service client.

    `subject` is the caller's name as memberships, grants and runs know it (auth/identity.py): the token's
    `sub` for the built-in issuer, `<issuer>|<sub>` for an external one.
    """

    subject: str
    kind: Literal["user", "service"]
    scopes: frozenset[str]
    issuer: str
    expires_at: int
    # The token says the user consents to background runs (twinbridge.auth.issuer.BACKGROUND_RUNS_CLAIM).
    consents_to_background_runs: bool = False


def _rejected(code: str, reason: str) -> InvalidAccessToken:
    return InvalidAccessToken(details=[ErrorDetail(code, reason, "Authorization")])


def _not_a_token(code: str, reason: str) -> InvalidHeaderValue:
    return InvalidHeaderValue(details=[ErrorDetail(code, reason, "Authorization")])


class ExternalIssuerKeys:
    """The JWKS of one external issuer, found through its discovery document."""

    def __init__(self, issuer_url: str, outbound: OutboundClient) -> None:
        self.issuer_url = issuer_url
        self.outbound = outbound
        self.keys: dict[str, Any] = {}
        self.fetched_at = 0.0
        self.lock = asyncio.Lock()

    async def _fetch(self) -> None:
        discovery = await self.outbound.get_json(f"{self.issuer_url}/.well-known/openid-configuration")
        document = await self.outbound.get_json(discovery["jwks_uri"])
        keys: dict[str, Any] = {}
        for entry in document.get("keys", []):
            if entry.get("kty") == "RSA" and entry.get("kid"):
                keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256").key
        self.keys = keys
        self.fetched_at = time.monotonic()

    async def key(self, key_id: str) -> Any:
        if key_id in self.keys:
            return self.keys[key_id]
        async with self.lock:
            if key_id not in self.keys and time.monotonic() - self.fetched_at >= REFRESH_INTERVAL_SECONDS:
                try:
                    await self._fetch()
                except (OutboundError, KeyError, TypeError, ValueError, AttributeError) as failure:
                    logger.warning("jwks_fetch_failed", issuer=self.issuer_url, error=str(failure))
                    raise _rejected(
                        "IssuerUnavailable", f"The keys of issuer {self.issuer_url} could not be fetched."
                    ) from None
        if key_id not in self.keys:
            raise _rejected(
                "UnknownSigningKey", f"The token's signing key '{key_id}' is not published by its issuer."
            )
        return self.keys[key_id]


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` header value; InvalidAuthorizationScheme when the
    scheme is another, InvalidHeaderValue when there is none.

    Only the scheme is looked at here, on every request; whether the rest is a token at all is checked when
    it is validated, once per token (TokenValidator caches the callers of valid tokens).
    """
    if authorization.startswith(BEARER_PREFIX):  # as every client sends it
        return authorization[len(BEARER_PREFIX) :].strip()
    scheme, _, token = authorization.strip().partition(" ")
    if not scheme:
        raise _not_a_token(
            "MissingToken", "The Authorization header is empty; expected 'Bearer <access token>'."
        )
    if scheme.lower() != "bearer":
        raise InvalidAuthorizationScheme(
            scheme,
            details=[ErrorDetail("InvalidValue", "Expected 'Bearer <access token>'.", "Authorization")],
        )
    return token.strip()


class TokenValidator:
    def __init__(
        self,
        accepted_issuers: list[str],
        builtin_issuer_url: str,
        builtin_key: SigningKey | None,
        audience: str | None,
        allow_private: bool = False,
    ) -> None:
        self.accepted_issuers = accepted_issuers
        self.builtin_issuer_url = builtin_issuer_url
        self.builtin_key = builtin_key
        self.audience = audience
        external = [issuer for issuer in accepted_issuers if issuer != builtin_issuer_url]
        outbound = OutboundClient(
            allow_private=allow_private,
            limits=ISSUER_REQUEST_LIMITS,
            trusted_hosts=[host for issuer in external if (host := urlsplit(issuer).hostname)],
        )
        self.external = {issuer: ExternalIssuerKeys(issuer, outbound) for issuer in external}
        self.validated: OrderedDict[str, Caller] = OrderedDict()

    def cached(self, token: str) -> Caller | None:
        """The caller of a token validated before and not expired since; None if it must be validated."""
        cached = self.validated.get(token)
        if cached is not None and cached.expires_at > time.time():
            return cached
        return None

    async def validate(self, token: str) -> Caller:
        cached = self.cached(token)
        if cached is not None:
            return cached
        caller = await self._validate(token)
        self.validated[token] = caller
        if len(self.validated) > VALIDATED_CACHE_SIZE:
            self.validated.popitem(last=False)
        return caller

    async def _signing_key(self, issuer: str, key_id: str | None) -> Any:
        if issuer == self.builtin_issuer_url and self.builtin_key is not None:
            if key_id not in (None, self.builtin_key.key_id):
                raise _rejected(
                    "UnknownSigningKey", "The token is not signed by a key of the built-in issuer."
                )
            return self.builtin_key.public_key
        if key_id is None:
            raise _rejected("UnknownSigningKey", "The token has no key id (kid) in its header.")
        return await self.external[issuer].key(key_id)

    async def _validate(self, token: str) -> Caller:
        if not token:
            raise _not_a_token("MissingToken", "The Authorization header has the Bearer scheme but no token.")
        if TOKEN_SYNTAX.fullmatch(token) is None:
            raise _not_a_token(
                "MalformedToken",
                "The value after 'Bearer' must be one token, without spaces or other separators.",
            )
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _not_a_token("MalformedToken", "The token is not a well-formed JWT.") from None
        if header.get("alg") != "RS256":
            raise _rejected("UnsupportedAlgorithm", "The token must be signed with RS256.")
        issuer = str(unverified.get("iss", "")).rstrip("/")
        if issuer not in self.accepted_issuers:
            raise _rejected("UnknownIssuer", f"The token's issuer '{issuer}' is not accepted by this server.")
        key = await self._signing_key(issuer, header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.audience,
                options={"verify_aud": self.audience is not None, "require": ["exp", "iss"]},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise _rejected("TokenExpired", "The token has expired.") from None
        except jwt.InvalidAudienceError:
            raise _rejected("InvalidAudience", f"The token's audience is not '{self.audience}'.") from None
        except jwt.InvalidSignatureError:
            raise _rejected("InvalidSignature", "The token's signature is not valid.") from None
        except jwt.PyJWTError as failure:
            raise _rejected("InvalidToken", f"The token is not valid: {failure}.") from None
        scopes = parse_scopes(claims.get("scope"))
        if not scopes & ACCEPTED_SCOPES:
            raise RequiredScopeMissing(
                details=[
                    ErrorDetail(
                        "InsufficientScope",
                        "The token does not have any of the required scopes: "
                        + ", ".join(sorted(ACCEPTED_SCOPES))
                        + ".",
                        "Authorization",
                    )
                ]
            )
        client_id = claims.get("client_id")
        subject = claims.get("sub") or client_id
        if not subject:
            raise _rejected("MissingSubject", "The token names no subject (sub) or client (client_id).")
        kind: Literal["user", "service"] = "service" if subject == client_id else "user"
        if issuer == self.builtin_issuer_url and SEPARATOR in str(subject):
            raise _rejected("InvalidSubject", f"The built-in issuer names no caller with '{SEPARATOR}'.")
        name = caller_name(issuer, str(subject), self.builtin_issuer_url)
        if len(name) > MAX_NAME_LENGTH:
            raise _rejected(
                "InvalidSubject",
                f"The token's issuer and subject are longer than {MAX_NAME_LENGTH} characters.",
            )
        return Caller(
            subject=name,
            kind=kind,
            scopes=scopes,
            issuer=issuer,
            expires_at=int(claims["exp"]),
            consents_to_background_runs=(
                kind == "user"
                and issuer == self.builtin_issuer_url
                and claims.get(BACKGROUND_RUNS_CLAIM) is True
            ),
        )
