"""Fixed-window rate limits for the public widget endpoints, per client IP and per key.

In one process the counters live in memory; with FEEDBACK_REDIS_URL set they live in Redis,
so every service process behind a load balancer counts against the same limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window resets (when not allowed)


class RateLimiter(Protocol):
    async def hit(self, bucket: str, limit: int, window_seconds: int) -> Verdict: ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Counters in this process only: right for one process, as the laptop default runs."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._clock = clock or time.time
        self._last_prune = 0

    async def hit(self, bucket: str, limit: int, window_seconds: int) -> Verdict:
        now = self._clock()
        window = int(now // window_seconds)
        if window != self._last_prune:
            # drop finished windows so one-off buckets (many IPs) do not pile up
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            self._last_prune = window
        count = self._counts.get((bucket, window), 0) + 1
        self._counts[(bucket, window)] = count
        retry = int((window + 1) * window_seconds - now) + 1
        return Verdict(count <= limit, retry)

    async def close(self) -> None:
        self._counts.clear()


class RedisRateLimiter:
    """INCR with an expiry per window: atomic across any number of processes."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def hit(self, bucket: str, limit: int, window_seconds: int) -> Verdict:
        now = time.time()
        window = int(now // window_seconds)
        key = f"feedback:rl:{bucket}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_seconds + 1)
            count, _ = await pipe.execute()
        retry = int((window + 1) * window_seconds - now) + 1
        return Verdict(int(count) <= limit, retry)

    async def close(self) -> None:
        await self._redis.aclose()


def limiter_for(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
