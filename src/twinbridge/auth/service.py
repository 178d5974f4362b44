"""Service clients of the built-in issuer and the client_credentials grant."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from twinbridge.auth.issuer import BuiltInIssuer, MintedToken
from twinbridge.auth.repository import ServiceClientRepository
from twinbridge.auth.scopes import ACCEPTED_SCOPES, PLATFORM_SCOPE
from twinbridge.db.models import ServiceClient
from twinbridge.platform.errors import OAuthError

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), **_SCRYPT)
    return hmac.compare_digest(candidate, base64.b64decode(digest))


class ServiceClientService:
    def __init__(self, session: AsyncSession) -> None:
        self.repository = ServiceClientRepository(session)

    async def register(self, client_id: str, scopes: list[str] | None = None) -> str:
        """Registers (or re-keys) a client and returns its new secret, which is stored only as a hash."""
        granted = scopes or [PLATFORM_SCOPE]
        unknown = set(granted) - ACCEPTED_SCOPES
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
        secret = secrets.token_urlsafe(32)
        await self.repository.save(
            ServiceClient(client_id=client_id, secret_hash=hash_secret(secret), scopes=" ".join(granted))
        )
        return secret

    async def client_credentials(
        self, issuer: BuiltInIssuer, client_id: str, client_secret: str, scope: str | None, ttl: int
    ) -> MintedToken:
        client = await self.repository.get(client_id)
        if client is None or not verify_secret(client_secret, client.secret_hash):
            raise OAuthError("invalid_client", "Unknown client or wrong client secret.", status_code=401)
        allowed = client.scopes.split()
        requested = scope.split() if scope else allowed
        if not set(requested) <= set(allowed):
            raise OAuthError("invalid_scope", f"The client may request only: {' '.join(allowed)}.")
        return issuer.mint(subject=client_id, kind="service", scopes=requested, ttl=ttl)
