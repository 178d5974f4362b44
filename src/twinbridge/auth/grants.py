"""User grants: a user's consent that runs may act for them in the background.

The cloud service keeps a refresh token per user; twinbridge keeps a grant. The authorization URL handed
out by the authorization-information endpoints carries a short-lived ticket signed by the built-in issuer,
naming the user; following it records the grant (auto-consent, as suits the embedded mode) and redirects
back to the caller's redirect URL.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import jwt

from twinbridge.auth.issuer import BuiltInIssuer
from twinbridge.auth.repository import UserGrantRepository
from twinbridge.db.database import Transaction
from twinbridge.db.models import UserGrant
from twinbridge.platform.errors import ApiError
from twinbridge.platform.time import utc_now

if TYPE_CHECKING:
    from twinbridge.auth.tokens import Caller

TICKET_PURPOSE = "twinbridge-grant"
TICKET_TTL_SECONDS = 15 * 60


class InvalidGrantTicket(ApiError):
    status_code = 400
    default_code = "InvalidGrantTicket"
    default_message = "The authorization link is invalid or has expired; ask for a new one."


def authorization_url(issuer: BuiltInIssuer, subject: str, redirect_url: str | None) -> str:
    now = int(time.time())
    ticket = jwt.encode(
        {
            "iss": issuer.issuer_url,
            "sub": subject,
            "purpose": TICKET_PURPOSE,
            "iat": now,
            "exp": now + TICKET_TTL_SECONDS,
        },
        issuer.signing_key.private_key,
        algorithm="RS256",
        headers={"kid": issuer.signing_key.key_id},
    )
    query = {"ticket": ticket}
    if redirect_url:
        query["redirect_url"] = redirect_url
    return f"{issuer.issuer_url}/connect/authorize?{urlencode(query)}"


def ticket_subject(issuer: BuiltInIssuer, ticket: str) -> str:
    try:
        claims = jwt.decode(
            ticket,
            issuer.signing_key.public_key,
            algorithms=["RS256"],
            issuer=issuer.issuer_url,
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError:
        raise InvalidGrantTicket() from None
    if claims.get("purpose") != TICKET_PURPOSE:
        raise InvalidGrantTicket()
    return str(claims["sub"])


class GrantService:
    def __init__(self, transaction: Transaction) -> None:
        self.repository = UserGrantRepository(transaction)

    async def grant(self, subject: str, expires_at: datetime | None = None) -> UserGrant:
        return await self.repository.save(UserGrant(subject=subject, expires_at=expires_at))

    async def revoke(self, subject: str) -> None:
        await self.repository.delete(subject)

    async def caller_is_authorized(self, caller: Caller) -> bool:
        """What `isUserAuthorized` answers: may runs started by this caller act for them in the background?

        A service client needs no consent (its runs act as the client); a user needs a recorded grant, or a
        token that carries their consent (recorded when the token starts a run).
        """
        if caller.kind == "service" or caller.consents_to_background_runs:
            return True
        return await self.is_authorized(caller.subject)

    async def is_authorized(self, subject: str) -> bool:
        grant = await self.repository.get(subject)
        if grant is None:
            return False
        if grant.expires_at is None:
            return True
        expires = (
            grant.expires_at if grant.expires_at.tzinfo else grant.expires_at.replace(tzinfo=utc_now().tzinfo)
        )
        return expires > utc_now()
