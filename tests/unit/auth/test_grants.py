"""Consent for background runs, on SQLite and PostgreSQL: granting again changes only what differs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from twinbridge.auth.grants import GrantService, InvalidGrantTicket, read_ticket
from twinbridge.auth.repository import UserGrantRepository
from twinbridge.platform.time import utc_now
from twinbridge.runtime import Runtime


async def test_granting_again_keeps_an_unchanged_grant_and_replaces_a_changed_expiry(
    runtime: Runtime,
) -> None:
    async with runtime.database.transaction() as transaction:
        first = await GrantService(transaction).grant("alice")
    async with runtime.database.transaction() as transaction:
        await GrantService(transaction).grant("alice")  # the same consent again: nothing to write
        kept = await UserGrantRepository(transaction).get("alice")
    assert kept is not None
    assert (kept.expires_at, kept.created_at) == (None, first.created_at)

    past = utc_now() - timedelta(minutes=1)
    async with runtime.database.transaction() as transaction:
        await GrantService(transaction).grant("alice", expires_at=past)
    async with runtime.database.transaction(write=False) as transaction:
        assert not await GrantService(transaction).is_authorized("alice")
    async with runtime.database.transaction() as transaction:
        await GrantService(transaction).grant("alice")
    async with runtime.database.transaction(write=False) as transaction:
        assert await GrantService(transaction).is_authorized("alice")


@pytest.mark.parametrize("ticket", ["abc.é", "é.abc", "", "no-dot"])
def test_a_ticket_with_any_characters_that_is_not_ours_is_an_invalid_ticket(
    runtime: Runtime, ticket: str
) -> None:
    with pytest.raises(InvalidGrantTicket):
        read_ticket(runtime.issuer, ticket)
