"""The runner: the loop behind ``vafa worker`` (and the worker inside ``vafa serve`` on SQLite).

Each source of work (stored webhook events, jobs) is worked through, one batch a turn, in a loop
of its own, so that events never wait for a job's call to a store; the events' loop also runs
the periodic tasks at each scheduler tick. Every part has its own failures: a task that keeps
failing never keeps accepted events or jobs from being processed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import structlog

from app.config import Settings
from app.db import Database
from app.jobs import notify
from app.jobs.notify import Listener
from app.jobs.periodic import Periodic, run_periodic
from app.jobs.statistics import StatisticsKeeper, warn_if_autovacuum_off
from app.logs import log_failure
from app.orm import utcnow
from app.shops.service import ShopDirectory

log = structlog.get_logger(__name__)


class Source(Protocol):
    """A queue the runner works through, one batch a turn."""

    name: str

    async def run_once(self, now: datetime | None = None, limit: int | None = None) -> int:
        """Claim and settle one batch (of at most ``limit`` rows, else the source's own batch
        size); how many rows it settled (0: nothing is due)."""
        ...

    async def close(self) -> None: ...


class Runner:
    def __init__(
        self,
        db: Database,
        shops: ShopDirectory,
        settings: Settings,
        sources: Sequence[Source],
        periodic: Sequence[Periodic],
    ) -> None:
        self.db = db
        self.shops = shops
        self.settings = settings
        self.sources = tuple(sources)
        self.periodic = tuple(periodic)
        # Work someone waits for (a redemption's code): ends an idle sleep, unlike ``wake``
        # from intake, which also makes the worker leave the intake its share of the time.
        self._jobs = asyncio.Event()
        self.statistics = StatisticsKeeper(db)

    def wake_for_jobs(self) -> None:
        self._jobs.set()

    async def run_once(self, now: datetime | None = None) -> int:
        """One batch of every source; how many rows they settled."""
        total = 0
        for source in self.sources:
            total += await source.run_once(now)
        return total

    async def drain(self, now: datetime | None = None) -> int:
        """Work until nothing is due (tests, one-shot commands)."""
        total = 0
        while (count := await self.run_once(now)) > 0:
            total += count
        return total

    async def run_scheduled(
        self, now: datetime | None = None, *, claimed: bool = False
    ) -> dict[str, int]:
        """One tick of the periodic tasks, for every active shop; how many things each did.
        ``claimed``: only for the shops whose tick for this interval no other runner has had
        (the loop's ticks; a tick asked for by hand runs for every shop)."""
        interval = self.settings.scheduler_interval_seconds if claimed else None
        return await run_periodic(self.db, self.shops, self.periodic, now or utcnow(), interval)

    async def run_forever(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        """``wake``: set by this process's intake (the worker inside ``vafa serve``). Jobs
        someone waits for wake it through :meth:`wake_for_jobs`: called by this process's
        endpoints, or (``vafa worker`` on PostgreSQL) on the API processes' ``NOTIFY``."""
        log.info("worker started", batch_size=self.settings.batch_size)
        listener = None
        if wake is None and not self.db.is_sqlite:
            listener = Listener(self.db.url, {notify.JOBS: lambda _payload: self.wake_for_jobs()})
            listener.start()
        try:
            try:
                await warn_if_autovacuum_off(self.db)
            except Exception as exc:  # a database not up yet: the loop reports its own failures
                log_failure(log, "checking PostgreSQL's autovacuum setting failed", exc)
            await self._loop(stop, wake)
        finally:  # also when cancelled (the app's shutdown): no ANALYZE left running
            await self.statistics.close()
            if listener is not None:
                await listener.close()
            for source in self.sources:
                await source.close()
        log.info("worker stopped")

    async def _turn(self, source: Source, limit: int | None) -> int:
        try:
            return await source.run_once(limit=limit)
        except Exception as exc:  # the loop must survive a database hiccup
            log_failure(log, "worker turn failed", exc, source=source.name)
            return 0

    async def _loop(self, stop: asyncio.Event, wake: asyncio.Event | None) -> None:
        """The first source (stored events, which intake feeds) and the periodic tasks in one
        loop, every other source (jobs) in a loop of its own: a job waiting for a store's API
        never holds up the processing of events."""
        first, *others = self.sources or (_Nothing(),)
        # More streams of the first source only beside no intake, on PostgreSQL (SQLite has
        # one writer: a second stream would only wait for it).
        extra = (
            0 if wake is not None or self.db.is_sqlite else self.settings.worker_event_streams - 1
        )
        await asyncio.gather(
            self._source_loop(first, stop, wake, intake=wake is not None, scheduled=True),
            *(self._source_loop(first, stop, None, intake=False, scheduled=False)
              for _ in range(extra)),
            *(self._source_loop(s, stop, self._jobs, intake=False, scheduled=False)
              for s in others),
        )  # fmt: skip

    async def _source_loop(
        self,
        source: Source,
        stop: asyncio.Event,
        signal: asyncio.Event | None,
        intake: bool,
        scheduled: bool,
    ) -> None:
        """``signal``: ends an idle sleep (intake's ``wake`` for events, ``wake_for_jobs`` for
        jobs); with ``intake``, it also tells that deliveries keep arriving."""
        next_scheduled = 0.0
        loop = asyncio.get_running_loop()
        busy = False  # deliveries arrived during the last turn
        signals = (stop,) if signal is None else (stop, signal)
        while not stop.is_set():
            if scheduled and loop.time() >= next_scheduled:
                next_scheduled = loop.time() + self.settings.scheduler_interval_seconds
                try:
                    await self.run_scheduled(claimed=True)
                except Exception as exc:
                    log_failure(log, "scheduled tasks failed", exc)
            if signal is not None:
                signal.clear()
            started = loop.time()
            # Smaller turns while deliveries arrive: none waits for the writer for long.
            limit = self.settings.worker_busy_batch_size if busy else None
            settled = await self._turn(source, limit)
            if scheduled:
                self.statistics.after_turn()
            busy = intake and signal is not None and signal.is_set()
            if settled and busy:
                await self._yield_to_intake(loop.time() - started, stop)
            elif settled == 0:
                # Sleep until the next poll, or until intake or an endpoint in this process
                # (or, listened for, another process) asks for work.
                await _first_of(signals, self.settings.worker_idle_sleep_seconds)

    async def _yield_to_intake(self, turn: float, stop: asyncio.Event) -> None:
        """Webhooks arrived during the turn (the worker shares this process and SQLite's one
        writer with the intake): leave the intake the rest of the time, so that the worker
        takes at most its share while deliveries keep coming; with none, it runs flat out."""
        share = self.settings.worker_busy_share
        pause = min(turn * (1 - share) / share, self.settings.worker_busy_max_pause_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)


class _Nothing:
    """No source: the loop runs the periodic tasks only."""

    name = "nothing"

    async def run_once(self, now: datetime | None = None, limit: int | None = None) -> int:
        return 0

    async def close(self) -> None:
        return None


async def _first_of(events: Sequence[asyncio.Event], seconds: float) -> None:
    """Until one of the events is set, or for ``seconds``."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
