"""The built-in OIDC issuer of the embedded mode: mints RS256 tokens for users and service clients."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from twinbridge.auth.keys import SigningKey

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

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing_key.public_jwk()]}

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer_url,
            "jwks_uri": f"{self.issuer_url}/.well-known/jwks.json",
            "token_endpoint": f"{self.issuer_url}/connect/token",
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": [
                "itwin-platform",
                "export:read",
                "export:modify",
                "synchronization:read",
                "synchronization:modify",
            ],
        }
