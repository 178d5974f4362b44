"""The built-in OIDC issuer of the embedded mode: mints RS256 tokens for users and service clients."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from twinbridge.auth.keys import SigningKey
from twinbridge.auth.scopes import ACCEPTED_SCOPES, IDENTITY_SCOPES, OFFLINE_ACCESS, PLATFORM_SCOPE

# The client id written into user tokens minted by the CLI; a user token is told from a service token by
# `sub` differing from `client_id` (service tokens carry the client id in both).
CLI_CLIENT_ID = "twinbridge-cli"
# A claim of user tokens minted by the local operator (`twinbridge token --user`): the user consents to runs
# acting for them in the background. The server records the consent when the token starts a run, so minting
# a token never has to open the database. Honoured only in tokens of the built-in issuer.
BACKGROUND_RUNS_CLAIM = "twinbridge_background_runs"


@dataclass(frozen=True)
class MintedToken:
    access_token: str
    expires_in: int
    scope: str


@dataclass
class BuiltInIssuer:
    issuer_url: str
    signing_key: SigningKey
    audience: str | None = None

    def mint(
        self,
        *,
        subject: str,
        kind: Literal["user", "service"],
        scopes: list[str],
        ttl: int,
        client_id: str | None = None,
        background_runs: bool = False,
    ) -> MintedToken:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer_url,
            "sub": subject,
            "client_id": subject if kind == "service" else (client_id or CLI_CLIENT_ID),
            "scope": " ".join(scopes),
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        if kind == "user":
            claims["name"] = subject
            claims["preferred_username"] = subject
            if background_runs:
                claims[BACKGROUND_RUNS_CLAIM] = True
        if self.audience:
            claims["aud"] = self.audience
        token = jwt.encode(
            claims,
            self.signing_key.private_key,
            algorithm="RS256",
            headers={"kid": self.signing_key.key_id},
        )
        return MintedToken(access_token=token, expires_in=ttl, scope=claims["scope"])

    def mint_id_token(
        self, *, subject: str, client_id: str, ttl: int, auth_time: int, nonce: str | None = None
    ) -> str:
        """The OpenID Connect id_token of a sign-in that asked for `openid`: who signed in, for which
        client."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer_url,
            "sub": subject,
            "aud": client_id,
            "iat": now,
            "exp": now + ttl,
            "auth_time": auth_time,
            "name": subject,
            "preferred_username": subject,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(
            claims, self.signing_key.private_key, algorithm="RS256", headers={"kid": self.signing_key.key_id}
        )

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing_key.public_jwk()]}

    def openid_configuration(self) -> dict[str, Any]:
        """The discovery document. @itwin/service-authorization checks its types (strings, arrays of strings,
        booleans); @itwin/node-cli-authorization reads authorization_endpoint and token_endpoint."""
        client_authentication = ["client_secret_basic", "client_secret_post", "none"]
        return {
            "issuer": self.issuer_url,
            "authorization_endpoint": f"{self.issuer_url}/connect/authorize",
            "token_endpoint": f"{self.issuer_url}/connect/token",
            "revocation_endpoint": f"{self.issuer_url}/connect/revocation",
            "jwks_uri": f"{self.issuer_url}/.well-known/jwks.json",
            "scopes_supported": [
                PLATFORM_SCOPE,
                *sorted(ACCEPTED_SCOPES - {PLATFORM_SCOPE}),
                OFFLINE_ACCESS,
                *sorted(IDENTITY_SCOPES),
            ],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": client_authentication,
            "revocation_endpoint_auth_methods_supported": client_authentication,
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "name",
                "preferred_username",
            ],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "require_request_uri_registration": False,
        }
