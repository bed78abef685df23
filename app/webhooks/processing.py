"""Processing stored webhook events into the ledger: one kind of work on the job runner.

A batch of events is applied in one transaction together with their ``processed`` mark, so an
event is processed exactly once even if the runner dies half-way: the transaction rolls back and
the events are claimed again. The claim, the backoff and the parking are the job queue's
(:mod:`app.jobs.queue`): on PostgreSQL any number of runners claim with ``FOR UPDATE SKIP
LOCKED``; on SQLite the one in-process runner shares the database's single writer; the events of
a shop that is not active wait.

A batch that fails is retried one event at a time, so one bad event never blocks the others;
an event that keeps failing is retried with backoff and finally parked as ``failed`` for the
operator (``vafa events list --status failed``, ``vafa events replay``).

A batch whose orders need product groups the shop's cache lacks (a program matching
collections or categories, ``app/program/catalog.py``) rolls back, has them fetched from the
store outside any transaction and is applied again; if the store cannot say, its events fail
as any other (a store's failure is asked of it once per turn, not once per event).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.config import Settings
from app.connectors.registry import parse_body
from app.connectors.store import StoreThrottled
from app.db import Database
from app.errors import InvalidPayload
from app.jobs import queue
from app.logs import describe, log_failure
from app.orm import utcnow
from app.privacy import webhooks as privacy
from app.program import catalog
from app.program.catalog import Catalog, CatalogNeeded
from app.program.reconcile import OrderRace
from app.shops.service import ShopDirectory
from app.webhooks.apply import Parsed, apply_batch
from app.webhooks.models import PENDING_LITERAL, EventStatus, WebhookEvent

log = structlog.get_logger(__name__)

EVENTS = queue.Queue(
    id=WebhookEvent.id,
    shop_id=WebhookEvent.shop_id,
    status=WebhookEvent.status,
    attempts=WebhookEvent.attempts,
    due=WebhookEvent.next_attempt_at,
    last_error=WebhookEvent.last_error,
    waiting=WebhookEvent.status == PENDING_LITERAL,
    order_by=(WebhookEvent.id,),
    pending=EventStatus.PENDING,
    failed=EventStatus.FAILED,
)
# Rounds of "apply, find product groups missing (fetch them) or a new order stored by another
# transaction meanwhile, apply again" in one turn: one per shop in the batch at most, in practice.
_ROUNDS_PER_TURN = 5
_CLAIMED = (WebhookEvent.id, WebhookEvent.shop_id, WebhookEvent.topic, WebhookEvent.body,
            WebhookEvent.attempts)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    shop_id: int
    topic: str
    body: bytes
    attempts: int


class EventProcessor:
    name = "events"

    def __init__(
        self,
        db: Database,
        shops: ShopDirectory,
        settings: Settings,
        catalog: Catalog | None = None,
    ) -> None:
        self.db = db
        self.shops = shops
        self.batch_size = settings.batch_size
        self.policy = queue.RetryPolicy.from_settings(settings)
        # Where product groups missing from a shop's cache are fetched (None: nowhere, so an
        # event that needs some fails, as if the store were down).
        self.catalog = catalog

    async def run_once(self, now: datetime | None = None, limit: int | None = None) -> int:
        """Claim and process one batch; returns how many events it settled."""
        now = now or utcnow()
        batch: list[Claimed] = []
        failed: dict[int, Exception] = {}  # shops whose store could not give groups this turn
        try:
            await self._claim_and_apply(batch, now, limit or self.batch_size, failed)
            return len(batch)
        except Exception as exc:
            if not batch:
                raise
            log.warning("batch failed; retrying its events one by one", error=describe(exc))
        for event in batch:
            await self._run_alone(event.id, now, failed)
        return len(batch)

    async def _claim_and_apply(
        self,
        batch: list[Claimed],
        now: datetime,
        limit: int,
        failed: dict[int, Exception],
        *where: ColumnElement[bool],
    ) -> None:
        """Claim up to ``limit`` due events (``where``) into ``batch`` and apply them in one
        transaction; again after fetching product groups the shop's cache lacked, or after
        another transaction stored one of their new orders (either rolls the attempt back)."""
        for _ in range(_ROUNDS_PER_TURN):
            settled: dict[str, int] = {}
            try:
                async with self.db.write() as session:
                    rows = await session.execute(queue.claim(EVENTS, _CLAIMED, now, limit, *where))
                    batch[:] = [Claimed(*row) for row in rows]
                    if batch:
                        settled = await self._apply_batch(session, batch, now)
            except CatalogNeeded as need:
                await self._fetch(need, now, failed)
                continue
            except OrderRace:  # the other's order is stored now
                continue
            _count(settled)
            return
        raise RuntimeError(f"the batch was still refused after {_ROUNDS_PER_TURN} rounds")

    async def _fetch(
        self, need: CatalogNeeded, now: datetime, failed: dict[int, Exception]
    ) -> None:
        """The products' groups from the shop's store, kept in its cache (outside any
        transaction but the short one that stores them)."""
        if need.shop_id in failed:
            raise failed[need.shop_id]
        try:
            if self.catalog is None:
                raise RuntimeError("this process has no store to ask for product groups")
            found = await self.catalog.fetch(need.shop_id, need.product_ids)
        except Exception as exc:
            failed[need.shop_id] = exc
            raise
        async with self.db.write() as session:
            await catalog.store(session, need.shop_id, found, now)

    async def drain(self, now: datetime | None = None) -> int:
        """Process until nothing is due (tests, `vafa events process`)."""
        total = 0
        while (count := await self.run_once(now)) > 0:
            total += count
        return total

    async def close(self) -> None:
        return None

    async def _apply_batch(
        self, session: AsyncSession, batch: list[Claimed], now: datetime
    ) -> dict[str, int]:
        """Apply the batch and mark its events; how many reached each status."""
        by_shop: dict[int, list[Claimed]] = defaultdict(list)
        for event in batch:
            by_shop[event.shop_id].append(event)
        marks: dict[str, list[int]] = defaultdict(list)
        errors: dict[int, str] = {}
        for shop_id in sorted(by_shop):
            shop = await self.shops.by_id(shop_id)
            parsed: list[Parsed] = []
            for event in by_shop[shop_id]:
                if shop is None:
                    errors[event.id] = "the shop no longer exists"
                    continue
                try:
                    if await privacy.handle(session, shop, event.id, event.topic, event.body):
                        marks[EventStatus.PROCESSED].append(event.id)
                        continue
                    snaps = parse_body(
                        shop.platform, event.topic, event.body, shop.settings.currency_exponents
                    )
                except InvalidPayload as exc:
                    errors[event.id] = exc.message
                else:
                    parsed.append(Parsed(event.id, snaps))
            if shop is not None and parsed:
                acted = await apply_batch(session, shop_id, shop.settings, parsed, now)
                for event_id, did in acted.items():
                    marks[EventStatus.PROCESSED if did else EventStatus.IGNORED].append(event_id)
        for status, ids in marks.items():
            await _mark(session, ids, status, now, None)
        for event_id, error in errors.items():
            await _mark(session, [event_id], EventStatus.REJECTED, now, error)
        settled = {status: len(ids) for status, ids in marks.items()}
        if errors:
            settled[EventStatus.REJECTED] = len(errors)
        return settled

    async def _run_alone(
        self, event_id: int, now: datetime, failed: dict[int, Exception] | None = None
    ) -> None:
        try:
            only = WebhookEvent.id == event_id
            await self._claim_and_apply([], now, 1, {} if failed is None else failed, only)
        except Exception as exc:  # recorded on the event for the operator
            parked = await self._record_failure(event_id, now, exc)
            if parked:
                metrics.record_event_outcome(EventStatus.FAILED)
            log_failure(log, "event parked" if parked else "event failed", exc,
                              event_id=event_id)  # fmt: skip

    async def _record_failure(self, event_id: int, now: datetime, exc: Exception) -> bool:
        # A store that asked to wait is not asked again before it said (a fetch of groups).
        not_before = None
        if isinstance(exc, StoreThrottled):
            not_before = utcnow() + timedelta(seconds=exc.retry_after)
        async with self.db.write() as session:
            attempts = await session.scalar(
                select(WebhookEvent.attempts).where(WebhookEvent.id == event_id)
            )
            # Another runner may have processed it since this one failed.
            still_pending = WebhookEvent.status == EventStatus.PENDING
            return await queue.record_failure(session, EVENTS, event_id, (attempts or 0) + 1,
                                              describe(exc), self.policy, now, still_pending,
                                              not_before=not_before)  # fmt: skip


def _count(settled: dict[str, int]) -> None:
    for status, n in settled.items():
        metrics.record_event_outcome(status, n)


async def _mark(
    session: AsyncSession, event_ids: list[int], status: str, now: datetime, error: str | None
) -> None:
    for start in range(0, len(event_ids), 500):
        await session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_(event_ids[start : start + 500]))
            .values(
                status=status,
                processed_at=now,
                attempts=WebhookEvent.attempts + 1,
                last_error=error,
            )
        )


async def replay(
    db: Database,
    *,
    shop_id: int | None,
    event_ids: Sequence[int],
    status: str = EventStatus.FAILED,
) -> int:
    """Queue parked (or chosen) events again. Processing is idempotent, so replaying an event
    that was already applied posts nothing new; a rejected one is parsed again (by a fixed
    parser, say) and rejected again if it still cannot be."""
    where: list[ColumnElement[bool]] = (
        [WebhookEvent.id.in_(list(event_ids))] if event_ids else [WebhookEvent.status == status]
    )
    if shop_id is not None:
        where.append(WebhookEvent.shop_id == shop_id)
    async with db.write() as session:
        return await queue.requeue(session, EVENTS, None, where)
