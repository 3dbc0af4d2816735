"""Fixed-window rate limits for the public widget endpoints, per client IP and per key, and
who the client is (`client_address`) behind the proxies the service is told to trust.

In one process the counters live in memory; with FEEDBACK_REDIS_URL set they live in Redis,
so every service process behind a load balancer counts against the same limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any, Protocol

Network = IPv4Network | IPv6Network
# one IPv6 client usually holds a whole /64: counting its addresses apart would let it pick
# a fresh address for every request
IPV6_CLIENT_PREFIX = 64


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 198.51.100.7:443
        text = text.split(":", 1)[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def resolve_client(
    peer: str | None, forwarded_for: Iterable[str], trusted: Iterable[Network]
) -> str:
    """The client's address: the direct peer, unless the peer is one of the `trusted` proxies;
    then the right-most X-Forwarded-For address that is not a trusted proxy (the left part
    of the header is whatever the client wrote). "-" when nothing is known."""
    networks = tuple(trusted)
    address = _parse(peer) if peer else None
    if address is None:
        return peer or "-"

    def is_trusted(candidate: IPv4Address | IPv6Address) -> bool:
        return any(candidate in network for network in networks)

    if not networks or not is_trusted(address):
        return str(address)
    hops = [part for value in forwarded_for for part in value.split(",") if part.strip()]
    for hop in reversed(hops):
        candidate = _parse(hop)
        if candidate is None:  # garbage left of the proxies' entries: the last proxy it is
            break
        address = candidate
        if not is_trusted(candidate):
            break
    return str(address)


def client_address(scope: Mapping[str, Any], trusted: Iterable[Network]) -> str:
    """`resolve_client` for an ASGI request scope (its peer and X-Forwarded-For headers)."""
    client = scope.get("client")
    peer = client[0] if client else None
    forwarded = [
        value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"
    ]
    return resolve_client(peer, forwarded, trusted)


def client_bucket(address: str) -> str:
    """The rate-limit bucket of a client address: itself for IPv4, its /64 for IPv6."""
    parsed = _parse(address)
    if isinstance(parsed, IPv6Address):
        return str(ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
    return address


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window resets (when not allowed)


class RateLimiter(Protocol):
    async def hit(self, bucket: str, limit: int, window_seconds: int) -> Verdict: ...

    async def release(self, bucket: str, window_seconds: int) -> None:
        """Take back one hit of the current window (an attempt that turned out not to count:
        a sign-in that succeeded). Counting first and giving back after keeps simultaneous
        attempts from all slipping under the limit."""
        ...

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

    async def release(self, bucket: str, window_seconds: int) -> None:
        key = (bucket, int(self._clock() // window_seconds))
        if self._counts.get(key, 0) > 0:
            self._counts[key] -= 1

    async def close(self) -> None:
        self._counts.clear()


_RELEASE = """
if (tonumber(redis.call('GET', KEYS[1]) or '0') > 0) then return redis.call('DECR', KEYS[1]) end
return 0
"""


def _redis_key(bucket: str, window: int) -> str:
    return f"feedback:rl:{bucket}:{window}"


class RedisRateLimiter:
    """INCR with an expiry per window: atomic across any number of processes."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def hit(self, bucket: str, limit: int, window_seconds: int) -> Verdict:
        now = time.time()
        window = int(now // window_seconds)
        key = _redis_key(bucket, window)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_seconds + 1)
            count, _ = await pipe.execute()
        retry = int((window + 1) * window_seconds - now) + 1
        return Verdict(int(count) <= limit, retry)

    async def release(self, bucket: str, window_seconds: int) -> None:
        # only where this window's counter exists (a new window starts from nothing anyway)
        key = _redis_key(bucket, int(time.time() // window_seconds))
        await self._redis.eval(_RELEASE, 1, key)

    async def close(self) -> None:
        await self._redis.aclose()


def limiter_for(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
