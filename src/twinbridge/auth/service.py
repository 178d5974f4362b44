"""Service clients of the built-in issuer and the client_credentials grant."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from typing import TYPE_CHECKING

from twinbridge.auth.identity import is_builtin_name
from twinbridge.auth.repository import ServiceClientRepository
from twinbridge.auth.scopes import ACCEPTED_SCOPES, PLATFORM_SCOPE
from twinbridge.db.database import Transaction
from twinbridge.db.models import ServiceClient
from twinbridge.platform.errors import Conflict, ErrorDetail, InvalidRequest, OAuthError

if TYPE_CHECKING:  # the CLI's `clients create` needs none of these, and must start fast
    from twinbridge.auth.attempts import FailedSecretAttempts
    from twinbridge.auth.issuer import BuiltInIssuer, MintedToken

# Secrets made by `twinbridge clients create` before SHA-256 was used; still accepted.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_secret(secret: str) -> str:
    """The stored form of a secret: its SHA-256.

    The secrets are 256 random bits, which no guessing can search; a slow password hash (scrypt: 50 ms and
    16 MB each) would add nothing but a cost to every token request.
    """
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


# Compared against when the client id is unknown, so that an answer takes as long either way.
_UNKNOWN_CLIENT_HASH = hash_secret(secrets.token_urlsafe(32))


def verify_secret(secret: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    if scheme == "sha256":
        return hmac.compare_digest(hashlib.sha256(secret.encode()).hexdigest(), rest)
    if scheme == "scrypt":
        salt, _, digest = rest.partition("$")
        try:
            candidate = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), **_SCRYPT)
            return hmac.compare_digest(candidate, base64.b64decode(digest))
        except ValueError:
            return False
    return False


# How long after it began a refused client_credentials request is answered: longer than any secret check
# takes (an scrypt hash of an earlier version: 50 ms, more on a busy machine), so that every refusal takes
# as long, whether the client id exists or not and whatever its hash. The wait is a sleep, not CPU.
REFUSAL_SECONDS = 0.25


class ClientRefused(OAuthError):
    """invalid_client: an unknown client or a wrong secret, to be answered once `wait_out` returns (after
    the request's transaction has ended, so that no database connection waits with it)."""

    def __init__(self, started: float) -> None:
        super().__init__("invalid_client", "Unknown client or wrong client secret.", status_code=401)
        self.started = started

    async def wait_out(self) -> None:
        await asyncio.sleep(max(0.0, self.started + REFUSAL_SECONDS - time.monotonic()))


class ServiceClientExists(Conflict):
    default_code = "ServiceClientExists"
    default_message = "A service client with this id is registered already."


class ServiceClientService:
    def __init__(self, transaction: Transaction) -> None:
        self.repository = ServiceClientRepository(transaction)

    async def register(self, client_id: str, scopes: list[str] | None = None, *, rotate: bool = False) -> str:
        """Registers a client and returns its secret, which is stored only as a hash.

        An existing client keeps its secret unless `rotate` says to replace it: a new secret silently
        invalidates the one its owner has deployed.
        """
        if not is_builtin_name(client_id):
            raise InvalidRequest(
                details=[
                    ErrorDetail(
                        "InvalidValue",
                        "A client id is 1 to 255 printable characters without '|' (which marks callers of "
                        "external issuers).",
                        "clientId",
                    )
                ]
            )
        granted = scopes or [PLATFORM_SCOPE]
        unknown = set(granted) - ACCEPTED_SCOPES
        if unknown:
            raise InvalidRequest(
                details=[
                    ErrorDetail(
                        "InvalidValue",
                        f"Unknown scope(s) {', '.join(sorted(unknown))}; "
                        f"accepted: {', '.join(sorted(ACCEPTED_SCOPES))}.",
                        "scope",
                    )
                ]
            )
        if not rotate and await self.repository.get(client_id) is not None:
            raise ServiceClientExists(
                f"Service client '{client_id}' is registered already; its secret was not changed. "
                "Give --rotate to replace the secret (the old one stops working at once)."
            )
        secret = secrets.token_urlsafe(32)
        await self.repository.save(
            ServiceClient(client_id=client_id, secret_hash=hash_secret(secret), scopes=" ".join(granted))
        )
        return secret

    async def client_credentials(
        self,
        issuer: BuiltInIssuer,
        client_id: str,
        client_secret: str,
        scope: str | None,
        ttl: int,
        attempts: FailedSecretAttempts,
        address: str,
    ) -> MintedToken:
        """The client_credentials grant. The secret is checked in a thread (an earlier version's scrypt
        hashes take 50 ms of CPU), against a stand-in hash when the client is unknown; a refusal answers no
        sooner than REFUSAL_SECONDS after the check began (ClientRefused.wait_out), so that its timing tells
        no client id that exists from one that does not; wrong guesses are limited by `attempts`."""
        started = time.monotonic()
        retry_after = attempts.retry_after(client_id, address)
        if retry_after is not None:
            raise OAuthError(
                "temporarily_unavailable",
                f"Too many wrong client secrets for this client or from this address; try again in "
                f"{retry_after} s.",
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )
        client = await self.repository.get(client_id)
        stored = client.secret_hash if client else _UNKNOWN_CLIENT_HASH
        matches = await asyncio.to_thread(verify_secret, client_secret, stored)
        if client is None or not matches:
            attempts.record_failure(client_id, address)
            raise ClientRefused(started)
        allowed = client.scopes.split()
        requested = scope.split() if scope else allowed
        if not set(requested) <= set(allowed):
            raise OAuthError("invalid_scope", f"The client may request only: {' '.join(allowed)}.")
        return issuer.mint(subject=client_id, kind="service", scopes=requested, ttl=ttl)
