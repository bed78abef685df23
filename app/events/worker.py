"""The worker: turns accepted events into ledger entries, and runs the scheduled jobs.

A batch of events is applied in one transaction together with their ``processed`` mark, so an
event is processed exactly once even if the worker dies half-way: the transaction rolls back and
the events are claimed again. On PostgreSQL any number of workers claim with ``FOR UPDATE SKIP
LOCKED``; on SQLite the one in-process worker shares the database's single writer.

A batch that fails is retried one event at a time, so one bad event never blocks the others;
an event that keeps failing is retried with exponential backoff and finally parked as
``failed`` for the operator (``vafa events list --status failed``, ``vafa events replay``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.connectors.registry import parse_body
from app.db import Database
from app.errors import InvalidPayload
from app.events.apply import Parsed, apply_batch
from app.events.statistics import StatisticsKeeper
from app.ledger import locks
from app.ledger import service as ledger
from app.ledger.models import AccountKind, PointLot
from app.orm import utcnow
from app.program import reconcile
from app.shops.models import Shop
from app.shops.service import ShopContext, ShopDirectory
from app.webhooks.models import PENDING_LITERAL, EventStatus, WebhookEvent

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    shop_id: int
    topic: str
    body: bytes
    attempts: int


class Worker:
    def __init__(self, db: Database, shops: ShopDirectory, settings: Settings) -> None:
        self.db = db
        self.shops = shops
        self.settings = settings
        self.statistics = StatisticsKeeper(db)

    # -- events -------------------------------------------------------------------------------

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim and process one batch; returns how many events it settled."""
        now = now or utcnow()
        batch: list[Claimed] = []
        try:
            async with self.db.write() as session:
                batch = await self._claim(session, now, self.settings.batch_size)
                if batch:
                    await self._apply_batch(session, batch, now)
            return len(batch)
        except Exception as exc:
            if not batch:
                raise
            log.warning("batch failed; retrying its events one by one", error=repr(exc))
        for event in batch:
            await self._run_alone(event.id, now)
        return len(batch)

    async def drain(self, now: datetime | None = None) -> int:
        """Process until nothing is due (tests, `vafa events process`)."""
        total = 0
        while (count := await self.run_once(now)) > 0:
            total += count
        return total

    async def _claim(self, session: AsyncSession, now: datetime, limit: int) -> list[Claimed]:
        ev = WebhookEvent
        rows = await session.execute(
            select(ev.id, ev.shop_id, ev.topic, ev.body, ev.attempts)
            .where(
                ev.status == PENDING_LITERAL,
                or_(ev.next_attempt_at.is_(None), ev.next_attempt_at <= now),
            )
            .order_by(ev.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [Claimed(r.id, r.shop_id, r.topic, r.body, r.attempts) for r in rows]

    async def _apply_batch(
        self, session: AsyncSession, batch: list[Claimed], now: datetime
    ) -> None:
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

    async def _run_alone(self, event_id: int, now: datetime) -> None:
        try:
            async with self.db.write() as session:
                ev = WebhookEvent
                row = (
                    await session.execute(
                        select(ev.id, ev.shop_id, ev.topic, ev.body, ev.attempts)
                        .where(ev.id == event_id, ev.status == EventStatus.PENDING)
                        .with_for_update(skip_locked=True)
                    )
                ).first()
                if row is None:
                    return
                await self._apply_batch(
                    session, [Claimed(row.id, row.shop_id, row.topic, row.body, row.attempts)], now
                )
        except Exception as exc:  # recorded on the event for the operator
            log.exception("event failed", event_id=event_id)
            await self._record_failure(event_id, now, exc)

    async def _record_failure(self, event_id: int, now: datetime, exc: Exception) -> None:
        async with self.db.write() as session:
            attempts = await session.scalar(
                select(WebhookEvent.attempts).where(WebhookEvent.id == event_id)
            )
            attempts = (attempts or 0) + 1
            parked = attempts >= self.settings.worker_max_attempts
            delay = self.settings.worker_backoff_base_seconds * 2 ** (attempts - 1)
            await session.execute(
                update(WebhookEvent)
                # Another worker may have processed it since this one failed.
                .where(WebhookEvent.id == event_id, WebhookEvent.status == EventStatus.PENDING)
                .values(
                    attempts=attempts,
                    status=EventStatus.FAILED if parked else EventStatus.PENDING,
                    next_attempt_at=None if parked else now + timedelta(seconds=delay),
                    last_error=f"{type(exc).__name__}: {exc}"[:2000],
                )
            )

    # -- scheduled jobs ------------------------------------------------------------------------

    async def run_scheduled(self, now: datetime | None = None) -> dict[str, int]:
        """Release held points that are due and expire lots that are due, for every shop."""
        now = now or utcnow()
        async with self.db.read() as session:
            shop_ids = list((await session.scalars(select(Shop.id).order_by(Shop.id))).all())
        released = expired = 0
        for shop_id in shop_ids:
            try:  # one shop's trouble (say, credentials that no longer decrypt) stays its own
                shop = await self.shops.by_id(shop_id)
                if shop is None:
                    continue
                released += await self._release_due(shop, now)
                expired += await self._expire_due(shop, now)
            except Exception:
                log.exception("scheduled jobs failed for a shop", shop_id=shop_id)
        return {"released": released, "expired": expired}

    async def _release_due(self, shop: ShopContext, now: datetime) -> int:
        async with self.db.read() as session:
            order_ids = await reconcile.due_for_release(session, shop.shop_id, now)
        count = 0
        for order_id in order_ids:
            try:
                async with self.db.write() as session:
                    order = await reconcile.lock_order(session, shop.shop_id, order_id)
                    posted = await reconcile.reconcile(
                        session, shop.shop_id, shop.settings, order, now
                    )
                    count += sum(1 for p in posted if p.created)
            except Exception:
                log.exception("release failed", shop_id=shop.shop_id, order_id=order_id)
        return count

    async def _expire_due(self, shop: ShopContext, now: datetime) -> int:
        async with self.db.read() as session:
            due = (
                await session.execute(
                    select(PointLot.id, PointLot.owner)
                    .where(
                        PointLot.shop_id == shop.shop_id,
                        PointLot.expires_at <= now,
                        PointLot.remaining > 0,
                    )
                    .order_by(PointLot.owner, PointLot.id)
                )
            ).all()
        count = 0
        for lot_id, owner in due:
            try:
                count += await self._expire_lot(shop, lot_id, owner)
            except Exception:
                log.exception("expiry failed", shop_id=shop.shop_id, lot_id=lot_id)
        return count

    async def _expire_lot(self, shop: ShopContext, lot_id: int, owner: str) -> int:
        async with self.db.write() as session:
            await locks.lock_accounts(session, shop.shop_id, [(owner, AccountKind.AVAILABLE)])
            # Read again under the member's lock: a redemption may have used the lot since.
            lot = await session.get(PointLot, lot_id, populate_existing=True)
            if lot is None or lot.remaining <= 0 or lot.expires_at is None:
                return 0
            await ledger.expire_lot(
                session, shop.shop_id, owner, lot.id, lot.remaining, lot.expires_at
            )
        return 1

    # -- the loop ------------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        log.info("worker started", batch_size=self.settings.batch_size)
        try:
            await self._loop(stop, wake)
        finally:  # also when cancelled (the app's shutdown): no ANALYZE left running
            await self.statistics.close()
        log.info("worker stopped")

    async def _loop(self, stop: asyncio.Event, wake: asyncio.Event | None) -> None:
        next_scheduled = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if loop.time() >= next_scheduled:
                # Its own clock and its own failures: a job that keeps failing must never
                # keep accepted events from being processed.
                next_scheduled = loop.time() + self.settings.scheduler_interval_seconds
                try:
                    await self.run_scheduled()
                except Exception:
                    log.exception("scheduled jobs failed")
            try:
                processed = await self.run_once()
            except Exception:  # the loop must survive a database hiccup
                log.exception("worker iteration failed")
                processed = 0
            try:
                await self.statistics.after_batch(processed)
            except Exception:
                log.exception("checking the tables' statistics failed")
            if processed == 0:
                # Sleep until the next poll, or until intake in this process accepts an event.
                signal = wake or stop
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), self.settings.worker_idle_sleep_seconds)
                if wake is not None:
                    wake.clear()


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
    db: Database, *, shop_id: int | None, event_ids: list[int], status: str = EventStatus.FAILED
) -> int:
    """Queue parked (or chosen) events again. Processing is idempotent, so replaying an event
    that was already applied posts nothing new."""
    async with db.write() as session:
        query = update(WebhookEvent).values(
            status=EventStatus.PENDING, next_attempt_at=None, attempts=0
        )
        if event_ids:
            query = query.where(WebhookEvent.id.in_(event_ids))
        else:
            query = query.where(WebhookEvent.status == status)
        if shop_id is not None:
            query = query.where(WebhookEvent.shop_id == shop_id)
        result = await session.execute(query)
        return int(result.rowcount)  # type: ignore[attr-defined]
