"""The batcher behind group commit and batched balance reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest

from app.batching import Batcher


class Recorder:
    """A batch runner that records each batch and can be held mid-batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail_next = False

    async def run(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the database went away")
        return [item * 10 for item in items]


async def _held_first_batch(
    item: int, take: Callable[[Sequence[int]], int] = len
) -> tuple[Recorder, Batcher[int, int], asyncio.Task[int]]:
    """A batcher whose first batch (of ``item``) is under way and held until released."""
    rec = Recorder()
    batcher = Batcher(rec.run, take=take)
    rec.release.clear()
    first = asyncio.create_task(batcher.submit(item))
    await asyncio.sleep(0)
    return rec, batcher, first


async def test_a_lone_request_runs_at_once_and_gets_its_own_answer() -> None:
    rec = Recorder()
    batcher = Batcher(rec.run, take=len)
    assert await asyncio.wait_for(batcher.submit(4), 1) == 40
    assert rec.batches == [[4]]


async def test_requests_arriving_during_a_batch_wait_for_the_next_one() -> None:
    # This is what makes a batched read as fresh as a lone one: an answer never comes from a
    # statement that started before the request arrived.
    rec, batcher, first = await _held_first_batch(1)
    later = [asyncio.create_task(batcher.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    assert rec.batches == [[1]]
    rec.release.set()
    assert await first == 10
    assert [await t for t in later] == [20, 30, 40]
    assert rec.batches == [[1], [2, 3, 4]]


async def test_take_bounds_the_batch_size() -> None:
    rec, batcher, first = await _held_first_batch(0, take=lambda queued: min(len(queued), 2))
    rest = [asyncio.create_task(batcher.submit(n)) for n in range(1, 6)]
    await asyncio.sleep(0)
    rec.release.set()
    assert [await t for t in [first, *rest]] == [0, 10, 20, 30, 40, 50]
    assert rec.batches == [[0], [1, 2], [3, 4], [5]]


async def test_a_failed_batch_fails_its_callers_and_the_next_batch_still_runs() -> None:
    rec = Recorder()
    batcher = Batcher(rec.run, take=len)
    rec.release.clear()
    rec.fail_next = True
    doomed = [asyncio.create_task(batcher.submit(n)) for n in (1, 2)]
    await asyncio.sleep(0)
    later = asyncio.create_task(batcher.submit(3))
    rec.release.set()
    for task in doomed:
        with pytest.raises(RuntimeError, match="went away"):
            await task
    assert await later == 30


async def test_a_caller_that_goes_away_does_not_disturb_the_others() -> None:
    rec, batcher, first = await _held_first_batch(1)
    gone = asyncio.create_task(batcher.submit(2))
    stays = asyncio.create_task(batcher.submit(3))
    await asyncio.sleep(0)
    gone.cancel()
    rec.release.set()
    assert await first == 10
    assert await stays == 30
    assert gone.cancelled()


async def test_shutting_down_cancels_callers_still_queued() -> None:
    rec, batcher, running = await _held_first_batch(1)
    queued = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0)
    (task,) = batcher._tasks
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    with pytest.raises(asyncio.CancelledError):
        await queued


async def test_with_concurrency_two_a_second_batch_runs_beside_a_held_one() -> None:
    rec = Recorder()
    batcher = Batcher(rec.run, take=len, concurrency=2)
    rec.release.clear()
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)
    second = asyncio.create_task(batcher.submit(2))
    third = asyncio.create_task(batcher.submit(3))
    for _ in range(3):  # the submits run, then the second batch starts
        await asyncio.sleep(0)
    # Both batches are under way; the third request waits for whichever finishes first.
    assert rec.batches == [[1], [2, 3]]
    rec.release.set()
    assert [await first, await second, await third] == [10, 20, 30]
    fourth = await batcher.submit(4)
    assert fourth == 40
    assert rec.batches[-1] == [4]
    await batcher.close()
    assert not batcher._tasks


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(Recorder().run, take=len, concurrency=0)


async def test_concurrency_two_runs_no_third_batch_until_one_ends() -> None:
    rec = Recorder()
    batcher = Batcher(rec.run, take=lambda queued: 1, concurrency=2)
    rec.release.clear()
    tasks = [asyncio.create_task(batcher.submit(n)) for n in (1, 2, 3, 4)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert rec.batches == [[1], [2]]  # two under way, the other two wait
    rec.release.set()
    assert [await t for t in tasks] == [10, 20, 30, 40]
    assert rec.batches == [[1], [2], [3], [4]]
