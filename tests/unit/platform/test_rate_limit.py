"""Rate limiting on both counter stores: memory, and the real Redis server (shared by API nodes)."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from twinbridge.platform.errors import RateLimitExceeded, TooManyRequests
from twinbridge.platform.rate_limit import RateLimiter

REDIS_URL = os.environ.get("TWINBRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_or_skip() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as failure:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis at {REDIS_URL} is not reachable ({failure}); CI=true requires it")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable ({failure})")
    return REDIS_URL


@pytest.fixture(params=["memory", "redis"])
def storage_url(request: pytest.FixtureRequest) -> str:
    return "memory://" if request.param == "memory" else _redis_or_skip()


async def test_calls_past_the_limit_get_429_with_retry_after(storage_url: str) -> None:
    limiter = RateLimiter("2/minute", storage_url)
    caller = f"caller-{uuid.uuid4()}"
    await limiter.hit(caller)
    await limiter.hit(caller)
    with pytest.raises(TooManyRequests) as raised:
        await limiter.hit(caller)
    retry_after = int(raised.value.headers["retry-after"])
    assert 1 <= retry_after <= 60


async def test_each_caller_has_a_budget_of_its_own(storage_url: str) -> None:
    limiter = RateLimiter("1/minute", storage_url)
    await limiter.hit(f"first-{uuid.uuid4()}")
    await limiter.hit(f"second-{uuid.uuid4()}")


async def test_operation_chooses_its_429_code(storage_url: str) -> None:
    limiter = RateLimiter("1/minute", storage_url)
    caller = f"caller-{uuid.uuid4()}"
    await limiter.hit(caller, RateLimitExceeded)
    with pytest.raises(RateLimitExceeded) as raised:
        await limiter.hit(caller, RateLimitExceeded)
    assert raised.value.body()["error"]["code"] == "RateLimitExceeded"


def test_two_limiters_on_redis_share_their_counters() -> None:
    url = _redis_or_skip()
    caller = f"caller-{uuid.uuid4()}"

    async def scenario() -> None:
        first, second = RateLimiter("1/minute", url), RateLimiter("1/minute", url)
        await first.hit(caller)
        with pytest.raises(TooManyRequests):
            await second.hit(caller)

    import asyncio

    asyncio.run(scenario())


def test_unknown_counter_store_is_refused() -> None:
    with pytest.raises(ValueError, match="memory:// or redis://"):
        RateLimiter("1/minute", "memcached://x")
