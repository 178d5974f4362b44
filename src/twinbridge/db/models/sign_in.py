from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class AuthorizationCode:
    """A code sent to a client's redirect_uri at sign-in: single use, short-lived, bound to the request that
    asked for it. Only its SHA-256 is kept; once used it names the refresh-token family it started, which is
    revoked if the code is presented again (RFC 6749 section 4.1.2)."""

    code_hash: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    subject: str
    scopes: str
    nonce: str | None
    expires_at: datetime
    used_at: datetime | None = None
    family_id: str | None = None
    created_at: datetime = field(default_factory=utc_now)


@dataclass(slots=True)
class RefreshTokenFamily:
    """One sign-in with offline_access: the refresh tokens that replace each other from it. Revoking the
    family ends all of them."""

    id: str
    subject: str
    client_id: str
    scopes: str
    created_at: datetime = field(default_factory=utc_now)


@dataclass(slots=True)
class RefreshToken:
    """One refresh token of a family, by its SHA-256. `used_at` is set when it is exchanged for the next
    one; a used token presented again revokes its family."""

    token_hash: str
    family_id: str
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = field(default_factory=utc_now)
