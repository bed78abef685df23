"""Running the replays: each in a process of its own, so that the two of a simulation use two
cores and the caller's process (the API's event loop) only waits for them.

A replay process reads the shop's stored events from the live database page by page, copies
each page into its sandbox and processes it there (``sandbox.py``), telling the parent how far
it is. The sandboxes are files in a directory the parent owns: the parent reads the outcomes
from them when the processes are done, and removes them.

Processes come from a fork server that has the processing code imported already, so one starts
in milliseconds and never inherits the caller's threads, loops or connections.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue as queues
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

from app.db import Database
from app.program.catalog import copy_groups
from app.program.simulation import queries
from app.program.simulation.sandbox import BATCH_EVENTS, ProgramRows, Sandbox, ShopCopy

# How long the parent waits for a word from a replay before it checks the process is alive.
_POLL_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Replay:
    """One replay to run: the sandbox's file and the program it runs."""

    name: str
    path: Path
    program: ProgramRows


@dataclass(frozen=True, slots=True)
class Source:
    """Where the events come from, and as of when they are processed."""

    database_url: str
    shop: ShopCopy
    start: datetime | None
    until_id: int  # the last event stored when the simulation started
    now: datetime
    batch: int = BATCH_EVENTS


class ReplayFailed(Exception):
    pass


class ReplaysStopped(Exception):
    """The caller gave up (a request cancelled): the replays' processes were ended."""


async def replay_into(
    replay: Replay, source: Source, progress: Callable[[int], None]
) -> dict[str, int]:
    """Replay ``source``'s events into ``replay``'s sandbox; what processing made of them, by
    status. Runs in the replay's process (or any event loop of its own)."""
    live = Database(source.database_url, pool_size=1, max_overflow=0)
    sandbox = await Sandbox.create(replay.path, source.shop, replay.program, source.batch)
    try:
        # The members' segment spans, as they are live: a campaign for a segment is judged by
        # who was in it when each order was paid, which the events alone do not say.
        from app.segments.service import copy_spans

        async with live.read() as reading, sandbox.db.write() as writing:
            await copy_spans(reading, writing, source.shop.id)
            # And the product groups each order was judged with: the store is not asked.
            await copy_groups(reading, writing, source.shop.id, source.now)
        done = 0
        async for page in queries.stored_events(
            live, source.shop.id, source.start, source.until_id, per_read=source.batch
        ):
            await sandbox.add(page, source.now)
            await sandbox.process(source.now)
            done += len(page)
            progress(done)
        return dict(sandbox.statuses)
    finally:
        await sandbox.dispose()
        await live.dispose()


@dataclass(frozen=True, slots=True)
class Replayed:
    statuses: dict[str, int]  # what processing made of the events
    cpu_seconds: float  # of the replay's process: what it costs on an idle machine


def _child(replay: Replay, source: Source, words: Any) -> None:
    """A replay process's body: progress and the result (or the failure) go up ``words``."""
    try:
        statuses = asyncio.run(
            replay_into(replay, source, lambda done: words.put(("progress", replay.name, done)))
        )
    except BaseException as exc:
        words.put(("failed", replay.name, f"{type(exc).__name__}: {exc}"))
        raise
    words.put(("done", replay.name, Replayed(statuses, time.process_time())))


def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def run_replays(
    replays: list[Replay],
    source: Source,
    progress: Callable[[int], None],
    stop: threading.Event | None = None,
) -> dict[str, Replayed]:
    """Run ``replays`` at once, each in its own process; blocks until all are done (call it on
    a thread). ``progress`` gets the events the slowest replay has done; ``stop`` set ends the
    processes within half a second and raises :class:`ReplaysStopped`."""
    context = _context()
    words = context.Queue()
    processes = {
        r.name: context.Process(target=_child, args=(r, source, words), daemon=True)
        for r in replays
    }
    if stop is not None and stop.is_set():  # given up while waiting for its turn
        raise ReplaysStopped("the simulation was stopped")
    for process in processes.values():
        process.start()
    done = {r.name: 0 for r in replays}
    results: dict[str, Replayed] = {}
    try:
        while len(results) < len(replays):
            if stop is not None and stop.is_set():
                raise ReplaysStopped("the simulation was stopped")
            try:
                kind, name, value = words.get(timeout=_POLL_SECONDS)
            except queues.Empty:
                for name, process in processes.items():
                    if name not in results and not process.is_alive():
                        raise ReplayFailed(
                            f"the {name} replay stopped (exit code {process.exitcode})"
                        ) from None
                continue
            if kind == "progress":
                done[name] = value
                progress(min(done.values()))
            elif kind == "done":
                results[name] = value
            else:
                raise ReplayFailed(f"the {name} replay failed: {value}")
    finally:
        for process in processes.values():
            process.join(timeout=5 if len(results) == len(replays) else 0)
            if process.is_alive():
                process.kill()
                process.join()
        words.close()
    return results
