"""`GroupCommit`: callers' items written together, each caller told its own outcome."""

from __future__ import annotations

import asyncio

import pytest

from feedback.db import GroupCommit


class Recorder:
    """A stand-in for a batch statement: records batches, and takes `pause` seconds each."""

    def __init__(self, pause: float = 0.01) -> None:
        self.batches: list[list[int]] = []
        self.pause = pause

    async def __call__(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(items)
        await asyncio.sleep(self.pause)
        return [ValueError(f"bad {i}") if i < 0 else i * 10 for i in items]


async def test_a_lone_caller_is_written_at_once() -> None:
    run = Recorder(pause=0)
    group = GroupCommit(run)
    assert await group.submit(1) == 10
    assert run.batches == [[1]]


async def test_callers_arriving_while_a_batch_runs_share_the_next_one() -> None:
    gate = Gate()
    group = GroupCommit(gate, max_items=8, in_flight=1)
    first = asyncio.ensure_future(group.submit(0))
    await gate.started.wait()  # its batch is running: the others wait for the next one
    rest = [asyncio.ensure_future(group.submit(i)) for i in range(1, 20)]
    await _ticks()
    for _ in range(4):
        await gate.finish_next()
    results = await asyncio.gather(first, *rest)
    assert results == [i * 10 for i in range(20)]
    assert gate.batches[0] == [0]  # the first caller did not wait for company
    assert [len(b) for b in gate.batches[1:]] == [8, 8, 3]
    assert sorted(i for b in gate.batches for i in b) == list(range(20))
    assert (group.batches, group.items, group.largest) == (4, 20, 8)


async def test_an_item_that_fails_fails_only_its_own_caller() -> None:
    group = GroupCommit(Recorder(), in_flight=1)
    results = await asyncio.gather(*(group.submit(i) for i in (1, -2, 3)), return_exceptions=True)
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError) and str(results[1]) == "bad -2"


async def test_a_batch_that_fails_tells_each_of_its_callers_and_the_next_batch_runs() -> None:
    calls = 0

    async def flaky(items: list[int]) -> list[int | Exception]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 2:
            raise ConnectionError("database went away")
        return list(items)

    group = GroupCommit(flaky, max_items=3, in_flight=1)
    results = await asyncio.gather(*(group.submit(i) for i in range(7)), return_exceptions=True)
    assert results[:3] == [0, 1, 2]
    assert all(isinstance(r, ConnectionError) for r in results[3:6])
    assert results[6:] == [6]


async def test_a_caller_that_gives_up_still_has_its_item_written() -> None:
    run = Recorder()
    group = GroupCommit(run, in_flight=1)
    first = asyncio.ensure_future(group.submit(1))
    second = asyncio.ensure_future(group.submit(2))
    await asyncio.sleep(0)
    second.cancel()
    assert await first == 10
    with pytest.raises(asyncio.CancelledError):
        await second
    await asyncio.sleep(0.05)
    assert [i for b in run.batches for i in b] == [1, 2]


async def test_no_more_than_in_flight_batches_run_at_once() -> None:
    running = peak = 0

    async def measure(items: list[int]) -> list[int | Exception]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return list(items)

    group = GroupCommit(measure, max_items=2, in_flight=2)
    assert await asyncio.gather(*(group.submit(i) for i in range(10))) == list(range(10))
    assert peak == 2


class Gate:
    """A batch statement the test holds: each batch waits until the test lets it finish."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self._open: list[asyncio.Future[None]] = []
        self.started = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(items)
        done = asyncio.get_running_loop().create_future()
        self._open.append(done)
        self.started.set()
        await done
        return [i * 10 for i in items]

    async def finish_next(self) -> None:
        await self.started.wait()
        self.started.clear()
        self._open.pop(0).set_result(None)


class Timer:
    """The lingering's timer, held by the test: no linger ends until `expire()`."""

    def __init__(self) -> None:
        self.started = 0
        self._expired = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.started += 1
        await self._expired.wait()

    def expire(self) -> None:
        self._expired.set()


async def _ticks(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def _batch_of_three_then(group: GroupCommit[int, int], gate: Gate) -> list[asyncio.Task]:
    """A lone caller's batch, then three callers who arrived meanwhile written together."""
    first = asyncio.ensure_future(group.submit(0))
    await gate.started.wait()
    crowd = [asyncio.ensure_future(group.submit(i)) for i in (1, 2, 3)]
    await _ticks()
    await gate.finish_next()  # the lone caller's batch
    await gate.finish_next()  # the crowd's
    assert await first == 0 and await asyncio.gather(*crowd) == [10, 20, 30]
    return crowd


async def test_after_a_batch_of_several_the_next_waits_for_as_many() -> None:
    """Callers of a batch of three come back one after another: with lingering, the next
    batch waits for all three instead of starting with the first."""
    gate, timer = Gate(), Timer()
    group = GroupCommit(gate, max_items=8, in_flight=1, linger=0.2, sleep=timer.sleep)
    await _batch_of_three_then(group, gate)
    again = []
    for i in (4, 5, 6):
        again.append(asyncio.ensure_future(group.submit(i)))
        await _ticks()
        if i < 6:
            assert len(gate.batches) == 2  # still lingering for the others
    await gate.finish_next()
    assert await asyncio.gather(*again) == [40, 50, 60]
    assert gate.batches == [[0], [1, 2, 3], [4, 5, 6]]
    assert timer.started == 2  # one linger before [4, 5, 6], one after it
    timer.expire()


async def test_without_lingering_the_first_caller_back_is_written_alone() -> None:
    gate = Gate()
    group = GroupCommit(gate, max_items=8, in_flight=1, linger=0.0)
    await _batch_of_three_then(group, gate)
    alone = asyncio.ensure_future(group.submit(4))
    await gate.finish_next()
    assert await alone == 40
    assert gate.batches[-1] == [4]


async def test_a_linger_that_runs_out_writes_whoever_came() -> None:
    gate, timer = Gate(), Timer()
    group = GroupCommit(gate, max_items=8, in_flight=1, linger=0.2, sleep=timer.sleep)
    await _batch_of_three_then(group, gate)
    late = asyncio.ensure_future(group.submit(4))
    await _ticks()
    assert len(gate.batches) == 2 and timer.started == 1
    timer.expire()
    await gate.finish_next()
    assert await late == 40
    assert gate.batches[-1] == [4]


async def test_a_caller_who_writes_again_at_once_is_written_and_never_lingers() -> None:
    """The same task submitting right after its answer (the batch's task is finishing then)
    gets a batch of its own at once, however long the group would linger after a crowd."""
    timer = Timer()  # never expires: a caller that lingered would never be written
    lone = GroupCommit(Recorder(pause=0), linger=5.0, sleep=timer.sleep)
    for n in range(3):
        assert await asyncio.wait_for(lone.submit(n), 30.0) == n * 10
    assert timer.started == 0
    assert lone.batches == 3
