"""User grants: a user's consent that runs may act for them in the background.

The cloud service keeps a refresh token per user; twinbridge keeps a grant. The authorization URL handed
out by the authorization-information endpoints carries a short-lived ticket, naming the user and the
caller's redirect URL, signed with an HMAC of the built-in issuer's key (only this server reads it back);
following it records the grant (auto-consent, as suits the embedded mode) and redirects to that URL, and
only to that one: a ticket cannot be made to send a browser anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from twinbridge.auth.issuer import BuiltInIssuer
from twinbridge.auth.redirects import is_http_url
from twinbridge.auth.repository import UserGrantRepository
from twinbridge.db.database import Transaction
from twinbridge.db.models import UserGrant
from twinbridge.platform.errors import ApiError
from twinbridge.platform.time import utc_now

if TYPE_CHECKING:
    from twinbridge.auth.tokens import Caller

TICKET_LABEL = b"twinbridge grant ticket v1"
TICKET_TTL_SECONDS = 15 * 60


class InvalidGrantTicket(ApiError):
    status_code = 400
    default_code = "InvalidGrantTicket"
    default_message = "The authorization link is invalid or has expired; ask for a new one."


@dataclass(frozen=True)
class GrantTicket:
    subject: str
    redirect_url: str | None


def authorization_url(issuer: BuiltInIssuer, subject: str, redirect_url: str | None) -> str:
    """The URL of a signed ticket that records `subject`'s grant, then redirects to `redirect_url`, which
    must be an http(s) URL (the endpoints check it first and answer their own 422)."""
    if redirect_url is not None and not is_http_url(redirect_url):
        raise ValueError("a grant ticket redirects only to an http(s) URL")
    payload = json.dumps(
        [subject, int(time.time()) + TICKET_TTL_SECONDS, redirect_url], separators=(",", ":")
    )
    encoded = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    ticket = f"{encoded}.{issuer.signing_key.mac(TICKET_LABEL, encoded)}"
    return f"{issuer.issuer_url}/connect/authorize?{urlencode({'ticket': ticket})}"


def read_ticket(issuer: BuiltInIssuer, ticket: str) -> GrantTicket:
    """The ticket's user and redirect URL; InvalidGrantTicket when forged, altered, expired, or bound to
    a URL that is not http(s)."""
    encoded, _, mac = ticket.partition(".")
    # As bytes: compare_digest refuses (TypeError) to compare strings holding non-ASCII characters.
    if not hmac.compare_digest(issuer.signing_key.mac(TICKET_LABEL, encoded).encode(), mac.encode()):
        raise InvalidGrantTicket()
    try:
        subject, expires, redirect_url = json.loads(
            base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        )
    except (binascii.Error, ValueError, TypeError):
        raise InvalidGrantTicket() from None
    if not isinstance(subject, str) or not isinstance(expires, int) or expires <= time.time():
        raise InvalidGrantTicket()
    if redirect_url is not None and not (isinstance(redirect_url, str) and is_http_url(redirect_url)):
        raise InvalidGrantTicket()  # made before tickets were checked: it redirects nowhere
    return GrantTicket(subject, redirect_url)


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
