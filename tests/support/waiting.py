"""Waiting for an outcome without betting on the machine's speed."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

# Long enough for a machine under heavy load; a passing test returns as soon as it can.
PATIENCE_SECONDS = 120.0


async def eventually(
    check: Callable[[], Any | Awaitable[Any]],
    *,
    seconds: float = PATIENCE_SECONDS,
    interval: float = 0.05,
    what: str = "",
) -> Any:
    """Call `check` (sync or async) until it returns something true, and return that;
    fail after `seconds`. Use it for outcomes that another task or process brings about."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what or check!r}")
        await asyncio.sleep(interval)
