"""Counting wrong client secrets per client id and per source address, in windows."""

from __future__ import annotations

from twinbridge.auth.attempts import FailedSecretAttempts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_is_refused_past_its_limit_until_the_window_ends() -> None:
    clock = Clock()
    attempts = FailedSecretAttempts(per_client=2, per_address=10, window_seconds=60, clock=clock)
    attempts.record_failure("ci-bot", "10.0.0.1")
    assert attempts.retry_after("ci-bot", "10.0.0.2") is None
    attempts.record_failure("ci-bot", "10.0.0.2")
    clock.now += 15
    assert attempts.retry_after("ci-bot", "10.0.0.3") == 45
    assert attempts.retry_after("other", "10.0.0.1") is None
    clock.now += 45
    assert attempts.retry_after("ci-bot", "10.0.0.3") is None


def test_an_address_is_refused_past_its_limit_whatever_client_it_names() -> None:
    clock = Clock()
    attempts = FailedSecretAttempts(per_client=10, per_address=3, window_seconds=60, clock=clock)
    for client_id in ("a", "b", "c"):
        attempts.record_failure(client_id, "10.0.0.9")
    assert attempts.retry_after("d", "10.0.0.9") == 60
    assert attempts.retry_after("d", "10.0.0.8") is None


def test_the_counts_kept_are_bounded_and_ended_windows_go_first() -> None:
    clock = Clock()
    attempts = FailedSecretAttempts(per_client=1, per_address=100, window_seconds=60, max_keys=4, clock=clock)
    attempts.record_failure("old", "10.0.0.1")
    clock.now += 61
    attempts.record_failure("new", "10.0.0.2")
    attempts.record_failure("newer", "10.0.0.2")
    assert len(attempts._counts) <= 4
    assert attempts.retry_after("new", "10.0.0.3") == 60
    assert attempts.retry_after("old", "10.0.0.3") is None
