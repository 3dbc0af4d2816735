"""A small in-process cache with a time limit, for what hot paths read on every call: the widget
key, the active schedules and the global gap. Admin changes clear it in the process that made
them (`forget_configuration`); other processes see them within `ttl` seconds."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")

# how long a process may answer from configuration another process changed
CONFIG_TTL_SECONDS = 10


class Forgettable(Protocol):
    def clear(self) -> None: ...


_registered: list[Forgettable] = []


def remember_to_forget(cache: Forgettable) -> None:
    """Have `forget_configuration` clear `cache` too (the in-process memories of the widget's
    paths register themselves)."""
    _registered.append(cache)


def forget_configuration() -> None:
    """Called after admin changes (and imports) so this process applies them at once."""
    for cache in _registered:
        cache.clear()


class TTLCache(Generic[T]):
    def __init__(
        self,
        ttl: float,
        max_entries: int = 10_000,
        *,
        forgettable: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[Any, tuple[float, T]] = {}
        if forgettable:
            remember_to_forget(self)

    async def get(self, key: Any, load: Callable[[], Awaitable[T]]) -> T:
        hit = self._entries.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        value = await load()
        self.put(key, value)
        return value

    def peek(self, key: Any) -> T | None:
        """The value while it is fresh, else None; never loads."""
        hit = self._entries.get(key)
        if hit is None or hit[0] <= self._clock():
            return None
        return hit[1]

    def put(self, key: Any, value: T) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # unknown keys from a scan must not grow memory
        self._entries[key] = (self._clock() + self.ttl, value)

    def discard(self, key: Any) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
