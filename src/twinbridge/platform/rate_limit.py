"""Per-caller rate limiting with the `limits` library: in memory by default, Redis when configured."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from twinbridge.platform.errors import TooManyRequests


class RateLimiter:
    def __init__(self, limit: str, storage_url: str) -> None:
        self.item = parse(limit)
        if storage_url.startswith(("redis://", "rediss://")):
            # Counters shared by every API node; redis-py is already a dependency, coredis is not.
            storage = storage_from_string(
                f"async+{storage_url}", implementation="redispy", key_prefix="twinbridge-rate-limit"
            )
        elif storage_url == "memory://":
            storage = storage_from_string("async+memory://")
        else:
            raise ValueError(f"TWINBRIDGE_RATE_LIMIT_STORAGE_URL {storage_url!r}: use memory:// or redis://")
        self.limiter = MovingWindowRateLimiter(storage)

    async def allows(self, caller: str) -> bool:
        """Counts one request of `caller` if it is within the limit; a refused request is not counted."""
        return await self.limiter.hit(self.item, "caller", caller)

    async def hit(self, caller: str, error: type[TooManyRequests] = TooManyRequests) -> None:
        """Counts one request of `caller`; raises the operation's 429 with `retry-after` past the limit."""
        if await self.allows(caller):
            return
        stats = await self.limiter.get_window_stats(self.item, "caller", caller)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise error(headers={"retry-after": str(retry_after)})
