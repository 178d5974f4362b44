"""Failed client-secret attempts at the token endpoint, counted per client id and per source address.

Past a limit in a window, further attempts of that client id, or from that address, are refused (429)
without checking a secret, until the window ends: guessing costs the server nothing more, and a flood of
wrong secrets cannot take the CPU from other requests. Successes are not counted. The counts live in this
process's memory (each API node counts its own); a client id under attack is refused for the rest of the
window even with its right secret, which its tokens (an hour long) usually outlast.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

FAILURES_PER_CLIENT = 20
FAILURES_PER_ADDRESS = 30
WINDOW_SECONDS = 60.0
# Enough for every client id and address a server sees in a window; past it the oldest counts go first.
MAX_COUNTED_KEYS = 10_000


@dataclass
class _Count:
    window_start: float
    failures: int


class FailedSecretAttempts:
    def __init__(
        self,
        per_client: int = FAILURES_PER_CLIENT,
        per_address: int = FAILURES_PER_ADDRESS,
        window_seconds: float = WINDOW_SECONDS,
        max_keys: int = MAX_COUNTED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"client": per_client, "address": per_address}
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self.clock = clock
        self._counts: dict[tuple[str, str], _Count] = {}

    def retry_after(self, client_id: str, address: str) -> int | None:
        """Seconds until the client id and the address may try again; None when both may now."""
        now = self.clock()
        waits = []
        for key in (("client", client_id), ("address", address)):
            count = self._counts.get(key)
            if count is None or now - count.window_start >= self.window_seconds:
                continue
            if count.failures >= self.limits[key[0]]:
                waits.append(count.window_start + self.window_seconds - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def record_failure(self, client_id: str, address: str) -> None:
        now = self.clock()
        for key in (("client", client_id), ("address", address)):
            count = self._counts.get(key)
            if count is None or now - count.window_start >= self.window_seconds:
                self._counts.pop(key, None)  # a new window counts from its end of the dict
                self._counts[key] = _Count(now, 1)
            else:
                count.failures += 1
        if len(self._counts) > self.max_keys:
            self._forget(now)

    def _forget(self, now: float) -> None:
        """Drops ended windows, then the oldest ones while there are still too many."""
        for key in [
            key for key, count in self._counts.items() if now - count.window_start >= self.window_seconds
        ]:
            del self._counts[key]
        while len(self._counts) > self.max_keys:
            del self._counts[next(iter(self._counts))]
