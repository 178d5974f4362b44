from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from twinbridge.platform.time import format_timestamp


def test_timestamps_have_seven_fractional_digits_and_z() -> None:
    moment = datetime(2020, 10, 24, 2, 44, 13, 410966, tzinfo=UTC)
    assert format_timestamp(moment) == "2020-10-24T02:44:13.4109660Z"


def test_naive_and_offset_times_are_written_in_utc() -> None:
    assert format_timestamp(datetime(2020, 1, 1, 12, 0, 0)) == "2020-01-01T12:00:00.0000000Z"
    plus_two = datetime(2020, 1, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(plus_two) == "2020-01-01T12:00:00.0000000Z"


def test_missing_time_stays_missing() -> None:
    assert format_timestamp(None) is None
