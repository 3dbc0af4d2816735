"""The in-process cache the widget's hot paths read their configuration from."""

from __future__ import annotations

import pytest

from feedback.kernel.cache import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_a_value_is_loaded_once_until_it_expires(clock: Clock) -> None:
    loads: list[str] = []

    async def load() -> str:
        loads.append("x")
        return f"value {len(loads)}"

    ttl: TTLCache[str] = TTLCache(10, forgettable=False, clock=clock)
    assert await ttl.get("k", load) == "value 1"
    clock.now += 9.9
    assert await ttl.get("k", load) == "value 1"
    clock.now += 0.2
    assert await ttl.get("k", load) == "value 2"
    assert len(loads) == 2


def test_peek_put_and_discard_never_load_and_respect_the_time_limit(clock: Clock) -> None:
    ttl: TTLCache[tuple[int, str]] = TTLCache(10, forgettable=False, clock=clock)
    assert ttl.peek("acct") is None
    ttl.put("acct", (7, "premium"))
    assert ttl.peek("acct") == (7, "premium")
    clock.now += 10
    assert ttl.peek("acct") is None  # expired at exactly ttl seconds
    ttl.put("acct", (8, "basic"))
    ttl.discard("acct")
    ttl.discard("never there")
    assert ttl.peek("acct") is None


def test_a_full_cache_starts_over_instead_of_growing(clock: Clock) -> None:
    ttl: TTLCache[int] = TTLCache(10, max_entries=3, forgettable=False, clock=clock)
    for n in range(3):
        ttl.put(n, n)
    ttl.put("one more", 3)
    assert [ttl.peek(n) for n in range(3)] == [None, None, None]
    assert ttl.peek("one more") == 3
