"""Timestamps as the contract writes them: ISO-8601 UTC with seven fractional digits and a Z."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not UTC:  # naive ones are UTC already; aware ones may be in another zone
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    # Seven fractional digits like upstream's .NET timestamps: "2026-12-01T04:05:06.7890000Z".
    return moment.isoformat(timespec="microseconds")[:26] + "0Z"
