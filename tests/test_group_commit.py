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
    run = Recorder()
    group = GroupCommit(run, max_items=8, in_flight=1)
    first = asyncio.ensure_future(group.submit(0))
    await asyncio.sleep(0.001)  # its batch is running: the others wait for the next one
    results = await asyncio.gather(first, *(group.submit(i) for i in range(1, 20)))
    assert results == [i * 10 for i in range(20)]
    assert run.batches[0] == [0]  # the first caller did not wait for company
    assert [len(b) for b in run.batches[1:]] == [8, 8, 3]
    assert sorted(i for b in run.batches for i in b) == list(range(20))
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


async def _caller(group: GroupCommit[int, int], item: int, rounds: int, think: float) -> None:
    """A client that writes, waits for its answer, thinks, and writes again."""
    for n in range(rounds):
        assert await group.submit(item * 100 + n) == (item * 100 + n) * 10
        await asyncio.sleep(think)


async def _steady_load(linger: float) -> list[int]:
    """Four callers coming back 1-4 ms after their answers; the batch sizes they made."""
    run = Recorder(pause=0.05)
    group = GroupCommit(run, max_items=8, in_flight=1, linger=linger)
    await asyncio.gather(*(_caller(group, i, 6, 0.001 * i) for i in range(1, 5)))
    assert sorted(i for b in run.batches for i in b) == sorted(
        i * 100 + n for i in range(1, 5) for n in range(6)
    )
    return [len(b) for b in run.batches]


async def test_after_a_batch_of_several_the_next_waits_briefly_for_as_many() -> None:
    """Without lingering, callers who come back at different moments split into a batch of
    the first and a batch of the rest, again and again; lingering lets each batch's callers
    come back to share the next one."""
    alone = await _steady_load(linger=0.0)
    assert max(alone[1:]) < 4 and len(alone) >= 10  # after the first, they never meet again
    together = await _steady_load(linger=0.2)
    assert together.count(4) >= 4 and len(together) <= 8


async def test_a_caller_who_writes_again_at_once_is_written_and_never_lingers() -> None:
    """The same task submitting right after its answer (the batch's task is finishing then)
    gets a batch of its own at once, however long the group would linger after a crowd."""
    lone = GroupCommit(Recorder(pause=0), linger=5.0)
    for n in range(3):
        assert await asyncio.wait_for(lone.submit(n), 1.0) == n * 10
    assert lone.batches == 3
