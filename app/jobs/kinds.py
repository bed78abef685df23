"""Job kinds: each kind of job is a name and the async handler that does it.

A handler gets the job's context and payload; it returns when the work is done and raises when
this attempt failed (the job is then tried again after a backoff, and parked after the last
attempt). A job may run more than once (a runner that dies after the work, before recording it,
runs it again), so a handler is idempotent, as the ledger's idempotency keys make ledger work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.connectors.clients import StoreClients
from app.db import Database
from app.shops.service import ShopContext


@dataclass(frozen=True, slots=True)
class JobContext:
    db: Database  # the handler opens its own transactions
    stores: StoreClients  # calls to the store go through these, outside any transaction
    shop: ShopContext
    job_id: int
    attempt: int  # 1 for the first
    now: datetime
    # This attempt is the last: a failure parks the job, so a handler compensates instead.
    last_attempt: bool = False
    # The app's secret key, for what a handler derives from it (a granted reward's code).
    secret_key: str = ""


class RetryAfter(Exception):
    """Raised by a handler whose work may not be tried again for ``seconds`` (a store's
    Retry-After): the next attempt is due no sooner, whatever the backoff says."""

    def __init__(self, seconds: float, message: str = "") -> None:
        super().__init__(message or f"try again in {seconds:.1f} s")
        self.seconds = seconds


Handler = Callable[[JobContext, Mapping[str, Any]], Awaitable[None]]


class JobKinds:
    """The registry a runner works from: it claims only the kinds registered here, so a
    process that does not know a kind leaves its jobs to one that does."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._rerun_delays: dict[str, timedelta] = {}

    def register(
        self, kind: str, handler: Handler, *, rerun_delay: timedelta = timedelta(0)
    ) -> None:
        """``rerun_delay``: a job enqueued again while it ran runs again this much later, so
        that what a burst enqueues meanwhile is coalesced into that one rerun."""
        if kind in self._handlers:
            raise ValueError(f"job kind {kind!r} is registered already")
        self._handlers[kind] = handler
        self._rerun_delays[kind] = rerun_delay

    def handler(self, kind: str) -> Handler:
        return self._handlers[kind]

    def rerun_delay(self, kind: str) -> timedelta:
        return self._rerun_delays.get(kind, timedelta(0))

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._handlers))

    def __len__(self) -> int:
        return len(self._handlers)


def app_kinds() -> JobKinds:
    """The job kinds this version of Vafa runs (the outbox jobs register here)."""
    from app.rewards import tasks as rewards  # imported here: the rewards import the jobs
    from app.sync import tasks as sync_tasks  # above the job queue: it enqueues jobs itself

    kinds = JobKinds()
    from app.segments import tasks as segments_tasks

    kinds.register(rewards.CREATE_CODE, rewards.create_code)
    sync_tasks.register(kinds)
    segments_tasks.register(kinds)
    return kinds
