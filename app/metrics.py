"""``GET /metrics`` in Prometheus' text format (prometheus-client).

Counters live in the process that counts (the API counts webhook answers, the worker counts
what it processed); the queue's state (events pending, failed and rejected, the age of the
oldest pending event, jobs) is read from the database at scrape time, so every process
reports the same figures whichever one is scraped. Each of those reads is an indexed one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Table, event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from app.db import Database
from app.jobs.models import Job, JobStatus
from app.ledger.service import POSTED_KINDS
from app.orm import table_of, utcnow
from app.shops.models import Shop, ShopStatus
from app.webhooks.models import PENDING_LITERAL, EventStatus, WebhookEvent

log = structlog.get_logger(__name__)

WEBHOOKS = Counter(
    "vafa_webhooks",
    "Webhook deliveries answered, by platform, topic (those Vafa acts on; the rest are 'other') "
    "and outcome: accepted, duplicate, ignored, rejected, unauthorized, too_large, error",
    ["platform", "topic", "outcome"],
)
ACK_SECONDS = Histogram(
    "vafa_webhook_ack_seconds",
    "Time from a delivery's arrival to its answer",
    ["platform"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS_PROCESSED = Counter(
    "vafa_events_processed",
    "Stored webhook events the worker finished with, by status (processed, failed, rejected)",
    ["status"],
)
JOBS_PROCESSED = Counter(
    "vafa_jobs_processed",
    "Jobs the runner finished with, by kind and status: done, failed (parked), retry (an "
    "attempt failed), paused (the store refused the credentials; the job waits)",
    ["kind", "status"],
)
LEDGER_TRANSACTIONS = Counter(
    "vafa_ledger_transactions", "Ledger transactions posted, by kind", ["kind"]
)


def record_webhook(platform: str, topic: str, outcome: str, seconds: float) -> None:
    """On every delivery: the labelled series are looked up once (``labels()`` takes a lock
    and builds a key each time). The label values are few: callers bound the topics."""
    key = (platform, topic, outcome)
    counter = _WEBHOOK_SERIES.get(key)
    if counter is None:
        counter = _WEBHOOK_SERIES[key] = WEBHOOKS.labels(*key)
    timer = _ACK_SERIES.get(platform)
    if timer is None:
        timer = _ACK_SERIES[platform] = ACK_SECONDS.labels(platform)
    counter.inc()
    timer.observe(seconds)


_WEBHOOK_SERIES: dict[tuple[str, str, str], Counter] = {}
_ACK_SERIES: dict[str, Histogram] = {}


def record_event_outcome(status: str, n: int = 1) -> None:
    """The worker: ``n`` events of a batch reached ``status`` (after the batch committed)."""
    if n:
        EVENTS_PROCESSED.labels(status).inc(n)


def record_job_outcome(kind: str, status: str, n: int = 1) -> None:
    """The job runner: ``n`` jobs of ``kind`` finished as ``status`` (after the commit)."""
    if n:
        JOBS_PROCESSED.labels(kind, status).inc(n)


def record_ledger_transactions(kind: str, n: int = 1) -> None:
    """The ledger: ``n`` transactions of ``kind`` were posted (not replays of a known key)."""
    if n:
        LEDGER_TRANSACTIONS.labels(kind).inc(n)


@event.listens_for(Session, "after_commit")
def _count_committed_transactions(session: Session) -> None:
    # Counted once the commit holds them: a rolled-back batch posted nothing.
    for kind, n in session.info.pop(POSTED_KINDS, {}).items():
        record_ledger_transactions(kind, n)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back_transactions(session: Session) -> None:
    session.info.pop(POSTED_KINDS, None)


@dataclass
class QueueState:
    """The queue as the database has it at one scrape."""

    events: dict[str, int] = field(default_factory=dict)  # pending, failed, rejected
    lag_seconds: float = 0.0  # age of the oldest pending event, 0 when none is pending
    jobs: dict[str, int] = field(default_factory=dict)  # pending, running, failed
    shops: dict[str, int] = field(default_factory=dict)  # active, paused, disabled
    database_up: bool = True


_COUNTED = (EventStatus.FAILED, EventStatus.REJECTED)
_JOB_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.FAILED)


async def read_queue(db: Database) -> QueueState:
    state = QueueState()
    try:
        async with db.reader.connect() as conn:
            await _read_events(conn, state)
            state.jobs = await _read_jobs(conn)
            state.shops = await _read_shops(conn)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("metrics: the database could not be read", error=type(exc).__name__)
        return QueueState(database_up=False)
    return state


async def _read_events(conn: AsyncConnection, state: QueueState) -> None:
    events = table_of(WebhookEvent)
    pending = events.c.status == PENDING_LITERAL  # the partial index's own predicate
    state.events[EventStatus.PENDING] = int(
        await conn.scalar(select(func.count()).select_from(events).where(pending)) or 0
    )
    oldest: datetime | None = await conn.scalar(
        select(events.c.received_at).where(pending).order_by(events.c.id).limit(1)
    )
    if oldest is not None:
        state.lag_seconds = max(0.0, (utcnow() - oldest).total_seconds())
    state.events.update(await _count_per_shop(conn, events, _COUNTED))


async def _count_per_shop(
    conn: AsyncConnection, table: Table, statuses: Sequence[str]
) -> dict[str, int]:
    """Rows of ``table`` in each of ``statuses``, counted per shop: each count is then a range
    of the table's (shop_id, status, id) index rather than a walk of every row ever stored;
    shops are few."""
    shops = Shop.__table__
    per_shop = [
        select(func.count())
        .select_from(table)
        .where(table.c.shop_id == shops.c.id, table.c.status == status)
        .scalar_subquery()
        .label(status)
        for status in statuses
    ]
    rows = (await conn.execute(select(*per_shop).select_from(shops))).all()
    return {status: sum(int(row[i]) for row in rows) for i, status in enumerate(statuses)}


async def _read_jobs(conn: AsyncConnection) -> dict[str, int]:
    """Jobs waiting (pending, or running under a lease) and parked."""
    return await _count_per_shop(conn, table_of(Job), _JOB_STATUSES)


async def _read_shops(conn: AsyncConnection) -> dict[str, int]:
    """Shops by status, every known status listed (0 included), so a pause shows as a change
    of a series that exists."""
    rows = await conn.execute(select(Shop.status, func.count()).group_by(Shop.status))
    counts = dict.fromkeys(ShopStatus.ALL, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


class _QueueCollector(Collector):
    def __init__(self, state: QueueState) -> None:
        self._state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "vafa_metrics_database_up", "1 when the queue figures below could be read"
        )
        up.add_metric([], 1.0 if self._state.database_up else 0.0)
        yield up
        if not self._state.database_up:
            return
        events = GaugeMetricFamily(
            "vafa_webhook_events",
            "Stored webhook events by status: pending (waiting for the worker), failed "
            "(parked after every attempt), rejected (signed but unparseable)",
            labels=["status"],
        )
        for status, n in self._state.events.items():
            events.add_metric([status], float(n))
        yield events
        yield GaugeMetricFamily(
            "vafa_queue_lag_seconds",
            "Age of the oldest pending webhook event (0 when none is pending)",
            value=self._state.lag_seconds,
        )
        jobs = GaugeMetricFamily(
            "vafa_jobs",
            "Jobs by status: pending, running (claimed under a lease), failed (parked)",
            labels=["status"],
        )
        for status, n in self._state.jobs.items():
            jobs.add_metric([status], float(n))
        yield jobs
        shops = GaugeMetricFamily(
            "vafa_shops",
            "Shops by status: active, paused (the store refused Vafa's credentials; its jobs "
            "wait for `vafa shop resume`), disabled",
            labels=["status"],
        )
        for status, n in self._state.shops.items():
            shops.add_metric([status], float(n))
        yield shops


async def metrics_endpoint(request: Request) -> Response:
    """The process's counters, then the queue as the database has it now."""
    queue = CollectorRegistry(auto_describe=False)
    queue.register(_QueueCollector(await read_queue(request.app.state.vafa.db)))
    body = generate_latest(REGISTRY) + generate_latest(queue)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
