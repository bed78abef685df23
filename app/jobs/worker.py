"""Runs due jobs: claims a few, runs each one's handler, records how it went.

A claim is a short write transaction that marks the jobs ``running`` for a lease and counts the
attempt; the handler then runs outside it (it may call a platform's API, which must not hold the
database's write lock), and a second short transaction records the outcome. A runner that dies
mid-job leaves it ``running``; once the lease has run out another runner claims it again (the
attempt it died in counts). So a job runs at least once and its handler is idempotent.

A store that refuses the shop's credentials (401/403, :class:`StoreUnauthorized`) pauses the
shop instead of burning the job's attempts: the job goes back to waiting with the attempt
uncounted, and the shop's jobs wait until ``vafa shop resume`` (its webhooks are still kept).
A scope the app was not granted (:class:`~app.connectors.store.MissingScope`) is not that: only
the work that needs it fails, with that reason, and the shop's other jobs run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.config import Settings
from app.connectors.clients import StoreClients
from app.connectors.store import StoreError, StoreThrottled, StoreUnauthorized
from app.db import Database
from app.jobs import queue
from app.jobs.kinds import JobContext, JobKinds, RetryAfter
from app.jobs.models import Job, JobStatus
from app.jobs.service import JOBS
from app.logs import describe, log_failure
from app.orm import utcnow
from app.shops import service as shops_service
from app.shops.service import ShopDirectory

log = structlog.get_logger(__name__)

LEASE_RAN_OUT = "the runner stopped during its last attempt (its lease ran out)"


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    shop_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # with this one; also what tells this claim from a later one
    revision: int


class JobWorker:
    name = "jobs"

    def __init__(
        self,
        db: Database,
        shops: ShopDirectory,
        settings: Settings,
        kinds: JobKinds,
        stores: StoreClients,
    ) -> None:
        self.db = db
        self.shops = shops
        self.kinds = kinds
        self.stores = stores
        self.policy = queue.RetryPolicy.from_settings(settings)
        self.batch_size = settings.jobs_batch_size
        self.lease = timedelta(seconds=settings.jobs_lease_seconds)
        self.concurrency = settings.jobs_concurrency
        self.secret_key = settings.secret_key

    async def run_once(self, now: datetime | None = None, limit: int | None = None) -> int:
        """Claim and run one batch of due jobs; returns how many were claimed."""
        if not len(self.kinds):
            return 0
        now = now or utcnow()
        claimed = await self._claim(now, limit or self.batch_size)
        turns = asyncio.Semaphore(self.concurrency)
        paused: set[int] = set()

        async def run(job: Claimed) -> None:
            async with turns:
                if job.shop_id in paused:  # its store refused the credentials a moment ago
                    await self._give_back(job, now)
                elif not await self._run(job, now):
                    paused.add(job.shop_id)

        await asyncio.gather(*(run(job) for job in claimed))  # each job records its own outcome
        return len(claimed)

    async def close(self) -> None:
        await self.stores.aclose()

    async def _claim(self, now: datetime, limit: int) -> list[Claimed]:
        columns = (Job.id, Job.shop_id, Job.kind, Job.payload, Job.attempts, Job.revision,
                   Job.status)  # fmt: skip
        known = Job.kind.in_(list(self.kinds))
        async with self.db.write() as session:
            rows = (await session.execute(queue.claim(JOBS, columns, now, limit, known))).all()
            claimed: list[Claimed] = []
            for row in rows:
                if row.status == JobStatus.RUNNING and self.policy.parks(row.attempts):
                    log.warning("job parked", job_id=row.id, kind=row.kind, error=LEASE_RAN_OUT)
                    await session.execute(
                        update(Job)
                        .where(Job.id == row.id)
                        .values(status=JobStatus.FAILED, last_error=LEASE_RAN_OUT)
                    )
                    continue
                claimed.append(Claimed(row.id, row.shop_id, row.kind, dict(row.payload),
                                       row.attempts + 1, row.revision))  # fmt: skip
            if claimed:
                await session.execute(
                    update(Job)
                    .where(Job.id.in_([job.id for job in claimed]))
                    .values(
                        status=JobStatus.RUNNING,
                        attempts=Job.attempts + 1,
                        run_after=now + self.lease,
                    )
                )
        return claimed

    async def _run(self, job: Claimed, now: datetime) -> bool:
        """Run one job; False when its store refused the credentials (the shop is paused)."""
        ours = (Job.status == JobStatus.RUNNING, Job.attempts == job.attempts)
        try:
            shop = await self.shops.by_id(job.shop_id)
            if shop is None:  # deleted since (its jobs go with it)
                return True
            last = self.policy.parks(job.attempts)
            context = JobContext(self.db, self.stores, shop, job.id, job.attempts, now, last,
                                 self.secret_key)  # fmt: skip
            handler = self.kinds.handler(job.kind)
            await asyncio.wait_for(handler(context, job.payload), self.lease.total_seconds())
        except StoreUnauthorized as exc:
            reason = f"the store refused Vafa's credentials: {describe(exc)}"
            async with self.db.write() as session:
                newly = await shops_service.pause(session, job.shop_id, reason)
                await self._give_back_in(session, job, now, describe(exc))
            if newly:
                log.warning("shop paused", shop_id=job.shop_id, job_id=job.id, kind=job.kind,
                            error=describe(exc))  # fmt: skip
            metrics.record_job_outcome(job.kind, "paused")
            return False
        except StoreThrottled as exc:
            # The store asks to wait: not a failed attempt (a burst of write-backs on a store's
            # rate limit would otherwise park them). The job waits as long, its count kept.
            due = utcnow() + timedelta(seconds=exc.retry_after)
            async with self.db.write() as session:
                await self._give_back_in(session, job, due, describe(exc))
            metrics.record_job_outcome(job.kind, "throttled")
            return True
        except Exception as exc:  # a failed attempt, recorded on the job for the operator
            not_before = None
            if isinstance(exc, RetryAfter):  # from when the store said it, not the claim
                not_before = utcnow() + timedelta(seconds=exc.seconds)
            async with self.db.write() as session:
                parked = await queue.record_failure(session, JOBS, job.id, job.attempts,
                                                    describe(exc), self.policy, now,
                                                    *ours, not_before=not_before)  # fmt: skip
            event = "job parked" if parked else "job failed"
            ids: dict[str, Any] = {"job_id": job.id, "kind": job.kind, "attempt": job.attempts}
            if isinstance(exc, StoreError):  # its message is the whole story: no traceback
                log.warning(event, error=describe(exc), **ids)
            else:
                log_failure(log, event, exc, **ids)
            metrics.record_job_outcome(job.kind, JobStatus.FAILED if parked else "retry")
            return True
        latest = Job.revision == job.revision
        async with self.db.write() as session:
            # Enqueued again while it ran: run again, with the payload it carries now.
            await session.execute(
                update(Job)
                .where(Job.id == job.id, *ours)
                .values(
                    status=case((latest, JobStatus.DONE), else_=JobStatus.PENDING),
                    attempts=case((latest, Job.attempts), else_=0),
                    run_after=case(
                        (latest, now), else_=utcnow() + self.kinds.rerun_delay(job.kind)
                    ),
                    finished_at=case((latest, now), else_=None),
                    last_error=None,
                )
            )
        metrics.record_job_outcome(job.kind, JobStatus.DONE)
        return True

    async def _give_back(self, job: Claimed, now: datetime) -> None:
        async with self.db.write() as session:
            await self._give_back_in(session, job, now, None)

    async def _give_back_in(
        self, session: AsyncSession, job: Claimed, due: datetime, error: str | None
    ) -> None:
        """Back to waiting, due at ``due``, as if this attempt had not been made (the shop's
        pause holds it, or the store asked to wait)."""
        values: dict[str, Any] = {
            "status": JobStatus.PENDING,
            "attempts": job.attempts - 1,
            "run_after": due,
        }
        if error is not None:
            values["last_error"] = error[: queue.ERROR_LIMIT]
        await session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == JobStatus.RUNNING, Job.attempts == job.attempts)
            .values(values)
        )
