"""A small in-process cache with a time limit, for what every widget call reads: the widget
key, the active schedules and the global gap. Admin changes clear it in the process that made
them; other processes see them within `ttl` seconds."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class TTLCache(Generic[T]):
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[Any, tuple[float, T]] = {}

    async def get(self, key: Any, load: Callable[[], Awaitable[T]]) -> T:
        hit = self._entries.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        value = await load()
        self.put(key, value)
        return value

    def peek(self, key: Any) -> T | None:
        """The value while it is fresh, else None; never loads."""
        hit = self._entries.get(key)
        if hit is None or hit[0] <= time.monotonic():
            return None
        return hit[1]

    def put(self, key: Any, value: T) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # unknown keys from a scan must not grow memory
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def discard(self, key: Any) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
