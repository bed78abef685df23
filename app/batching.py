"""Requests that arrive while a database round trip is under way ride together on the next one.

The database does the same work for one row or for fifty in a statement, and a round trip (a
commit, an fsync, the driver's and SQLAlchemy's per-statement cost) is the expensive part. So
one batch runs at a time: whatever queued up during it goes in the next, which starts at once.
A request is never answered from a batch that started before it arrived (a read sees every
commit that preceded the request; a write is durable before its caller hears of it), and
nobody waits for a timer: an idle batcher runs a lone request immediately.

Where the database can work on two batches at once (PostgreSQL, on two connections), a second
batch may start while the first is under way (``concurrency``): otherwise the process sits idle
for each commit's round trip and WAL flush.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(slots=True)
class _Waiting(Generic[In, Out]):
    item: In
    future: asyncio.Future[Out]


class Batcher(Generic[In, Out]):
    def __init__(
        self,
        run: Callable[[list[In]], Awaitable[Sequence[Out]]],
        *,
        take: Callable[[Sequence[In]], int],
        concurrency: int = 1,
    ) -> None:
        """``run`` answers a batch, one result per item in order (or raises for all of them);
        ``take`` says how many of the queued items (at least one) the next batch holds;
        ``concurrency`` how many batches may be under way at once."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._run = run
        self._take = take
        self._concurrency = concurrency
        self._queue: list[_Waiting[In, Out]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: In) -> Out:
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(item, future))
        # A task that has just finished may not have left the set yet (its callback runs
        # later): it must not count, or this request would wait for a batch that never runs.
        if sum(1 for task in self._tasks if not task.done()) < self._concurrency:
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def close(self) -> None:
        """Wait for the batches under way (callers already queued are answered)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _drain(self) -> None:
        while self._queue:
            batch: list[_Waiting[In, Out]] = []
            try:
                count = max(1, self._take([w.item for w in self._queue]))
                batch, self._queue = self._queue[:count], self._queue[count:]
                results = await self._run([w.item for w in batch])
                answers = list(zip(batch, results, strict=True))
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError):
                    # Shutting down: nobody is left waiting for a batch that will not run.
                    for waiting in [*batch, *self._queue]:
                        waiting.future.cancel()
                    self._queue = []
                    raise
                for waiting in batch or self._queue:  # ``take`` itself failed: all of them
                    if not waiting.future.done():
                        waiting.future.set_exception(exc)
                if not batch:
                    self._queue = []
                continue
            for waiting, result in answers:
                if not waiting.future.done():  # a caller that went away needs no answer
                    waiting.future.set_result(result)
