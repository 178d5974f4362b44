"""Scopes: `itwin-platform` grants everything; the older granular scopes grant one API's reads or writes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

PLATFORM_SCOPE = "itwin-platform"
GRANULAR_SCOPES = frozenset(
    {
        "export:read",
        "export:modify",
        "synchronization:read",
        "synchronization:modify",
        # The Webhooks API's own scopes (its subscriptions; upstream's pages name them).
        "webhooks:read",
        "webhooks:modify",
    }
)
ACCEPTED_SCOPES = frozenset({PLATFORM_SCOPE}) | GRANULAR_SCOPES
# Scopes of interactive sign-in that grant no API: a refresh token, and an id_token (with the user's name).
OFFLINE_ACCESS = "offline_access"
OPENID = "openid"
IDENTITY_SCOPES = frozenset({OPENID, "profile", "email"})
SIGN_IN_SCOPES = ACCEPTED_SCOPES | {OFFLINE_ACCESS} | IDENTITY_SCOPES


class Access(StrEnum):
    READ = "read"
    MODIFY = "modify"


@dataclass(frozen=True)
class ScopeRequirement:
    """What an operation needs. `api` None means a supporting API (iTwins, iModels, storage)."""

    api: Literal["export", "synchronization", "webhooks"] | None
    access: Access

    def is_met_by(self, scopes: frozenset[str]) -> bool:
        if PLATFORM_SCOPE in scopes:
            return True
        if self.api is None:  # supporting APIs: any API's read scope reads, any API's modify scope writes
            return any(scope.endswith(f":{self.access}") for scope in scopes & GRANULAR_SCOPES)
        return f"{self.api}:{self.access}" in scopes


def parse_scopes(claim: object) -> frozenset[str]:
    """The `scope` claim is a space-separated string (RFC 8693) or, with some issuers, a list."""
    if isinstance(claim, str):
        return frozenset(claim.split())
    if isinstance(claim, list):
        return frozenset(str(item) for item in claim)
    return frozenset()
