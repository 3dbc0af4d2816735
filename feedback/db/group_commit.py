"""Group commit inside the process: many callers' writes in one statement and one commit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Many callers' writes in one statement and one commit: group commit inside the process.

    `submit(item)` waits for `run(items)`, which writes a whole batch and returns one result
    per item, in order (an exception in an item's place is raised to that item's caller).
    A batch starts at once when fewer than `in_flight` batches are running, so a lone caller
    waits no longer than before; under load, what arrives while batches run is written
    together by the next one (up to `max_items`). The cost per statement (a round trip,
    parsing, a transaction, the commit's flush) is then shared.

    After a batch of several, the next one waits up to `linger` seconds for as many callers
    (unless they are there already): under steady load the callers of one batch come back
    with their next writes just after it committed, and without the wait they would
    alternate between two half batches. A lone caller never waits.

    Each caller still gets its answer only after its batch committed. A caller that gives up
    (a client gone) does not take its item out: what was submitted is written. When `run`
    raises, every caller of that batch gets the exception; `run` should fall back to writing
    items one by one where one item's fault could otherwise fail the others.
    """

    def __init__(
        self,
        run: Callable[[list[Item]], Awaitable[list[Result | Exception]]],
        max_items: int = 64,
        in_flight: int = 1,
        linger: float = 0.0,
        sleep: Callable[[float], Coroutine[Any, Any, object]] | None = None,
    ) -> None:
        self._run = run
        self.max_items = max_items
        self.in_flight = in_flight
        self.linger = linger
        # the lingering's timer: by default the event loop's clock; tests pass one they control
        self._sleep = sleep
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running: set[asyncio.Task[None]] = set()  # references, so tasks are kept
        # draining tasks not yet returned: counted by the task itself as it returns, not by a
        # done callback, which runs only after the callers it just answered; a caller that
        # submits again at once would otherwise find a finished task counted and wait forever
        self._active = 0
        # while lingering: the number of callers that ends the wait, and the wait itself
        self._enough = 0
        self._filled: asyncio.Future[None] | None = None
        self.batches = 0  # written since the process started, and the items in them
        self.items = 0
        self.largest = 0

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests): nothing of the old one is live
            self._loop, self._waiting, self._running = loop, [], set()
            self._filled, self._active = None, 0
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((item, future))
        filled = self._filled
        if filled is not None and len(self._waiting) >= self._enough and not filled.done():
            filled.set_result(None)
        if self._active < self.in_flight:
            self._active += 1
            task = loop.create_task(self._drain())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return await future  # a caller cancelled cancels its future, not its write

    async def _drain(self) -> None:
        loop = self._loop
        try:
            await self._write_batches()
        finally:
            if self._loop is loop:
                self._active -= 1

    async def _write_batches(self) -> None:
        last = 0
        while True:
            if last > 1 and self.linger > 0 and len(self._waiting) < last:
                await self._wait_for(min(last, self.max_items))
            if not self._waiting:
                return
            batch = self._waiting[: self.max_items]
            last = len(batch)
            del self._waiting[: self.max_items]
            self.batches += 1
            self.items += len(batch)
            self.largest = max(self.largest, len(batch))
            try:
                results = await self._run([item for item, _ in batch])
            except asyncio.CancelledError:  # the event loop is closing
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # every caller of this batch hears of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _wait_for(self, callers: int) -> None:
        """Until `callers` are waiting, or `linger` seconds have passed."""
        assert self._loop is not None
        self._enough, self._filled = callers, self._loop.create_future()
        try:
            if self._sleep is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._filled, self.linger)
                return
            timer: asyncio.Task[object] = self._loop.create_task(self._sleep(self.linger))
            try:
                await asyncio.wait((self._filled, timer), return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()
        finally:
            self._filled = None
