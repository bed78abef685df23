"""Enqueue, list and retry jobs. Each takes the caller's session: the caller owns the
transaction, so a job is enqueued if and only if the work that asked for it commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, and_, case, cast, insert, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_insert
from app.jobs import queue
from app.jobs.models import WAITING_LITERALS, Job, JobStatus
from app.orm import table_of, utcnow
from app.shops.models import ShopStatus

JOBS = queue.Queue(
    id=Job.id,
    shop_id=Job.shop_id,
    status=Job.status,
    attempts=Job.attempts,
    due=Job.run_after,
    last_error=Job.last_error,
    waiting=Job.status.in_(WAITING_LITERALS),
    order_by=(Job.run_after, Job.id),
    pending=JobStatus.PENDING,
    failed=JobStatus.FAILED,
    shop_statuses=ShopStatus.CALLING,  # a paused shop's jobs wait: they call the store
)


async def enqueue(
    session: AsyncSession,
    shop_id: int,
    kind: str,
    payload: Mapping[str, Any],
    *,
    key: str | None = None,
    run_after: datetime | None = None,
) -> int:
    """Ask for a job; returns its id. Flushes, never commits.

    Without a ``key`` every call is a job of its own. With one, there is one job per
    (shop, kind, key), and enqueueing the key again *coalesces*: the job carries the latest
    payload and runs once for all the calls it absorbed:

    - pending: the payload is replaced; it runs when it was due (sooner if asked, unless it is
      waiting out the backoff of a failed attempt);
    - running: the payload is replaced and, when the running attempt ends, the job runs again
      with it (a runner never finishes a job it did not run the latest payload of);
    - done or failed: the job is restarted with the new payload and a fresh count of attempts
      (new work for the key; the old run's error is dropped with it).
    """
    now = utcnow()
    values = _row(shop_id, kind, key, payload, run_after or now, now)
    if key is None:
        job_id = await session.scalar(insert(Job).values(values).returning(Job.id))
        assert job_id is not None
        return int(job_id)
    job_id = await session.scalar(_coalescing(session).values(values).returning(table_of(Job).c.id))
    if job_id is None:  # left as it was (waiting with this payload): no row is returned
        job_id = await session.scalar(
            select(Job.id).where(Job.shop_id == shop_id, Job.kind == kind, Job.dedupe_key == key)
        )
    assert job_id is not None
    return int(job_id)


async def enqueue_many(
    session: AsyncSession,
    shop_id: int,
    kind: str,
    jobs: Mapping[str, Mapping[str, Any]],
    *,
    run_after: datetime | None = None,
) -> None:
    """:func:`enqueue` for many keys (key → payload) at once, coalescing each the same way, in
    order of key (two transactions never wait on each other in a circle). Flushes, never
    commits."""
    if not jobs:
        return
    now = utcnow()
    rows = [_row(shop_id, kind, key, payload, run_after or now, now)
            for key, payload in sorted(jobs.items())]  # fmt: skip
    await session.execute(_coalescing(session), rows)


def _row(
    shop_id: int,
    kind: str,
    key: str | None,
    payload: Mapping[str, Any],
    due: datetime,
    now: datetime,
) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "kind": kind,
        "dedupe_key": key,
        "payload": dict(payload),
        "status": JobStatus.PENDING,
        "attempts": 0,
        "revision": 0,
        "run_after": due,
        "created_at": now,
    }


def _coalescing(session: AsyncSession) -> Any:
    """The insert of keyed jobs that updates the job already there (see :func:`enqueue`),
    without its rows: run with them as parameters, it is one compiled statement whatever
    their number (a VALUES list of all the rows was compiled afresh for every batch)."""
    job = table_of(Job).c
    stmt = dialect_insert(table_of(Job), session.get_bind().dialect.name)
    new = stmt.excluded
    # (no IN list: its expanding parameter cannot be run with the rows as parameters)
    restart = or_(job.status == JobStatus.DONE, job.status == JobStatus.FAILED)
    sooner = and_(job.status == JobStatus.PENDING, job.attempts == 0, new.run_after < job.run_after)
    # A waiting job that already carries this payload and is due no later is left as it is:
    # the ledger asks for its member's write-back on every change, and rewriting an unchanged
    # row (and its index entries) every batch was a third of the jobs table's writes.
    same = and_(
        job.status == JobStatus.PENDING,
        cast(job.payload, Text) == cast(new.payload, Text),
        ~sooner,
    )
    return stmt.on_conflict_do_update(
        index_elements=[job.shop_id, job.kind, job.dedupe_key],
        where=~same,
        set_={
            "payload": new.payload,
            "revision": job.revision + 1,
            "status": case(
                (job.status == JobStatus.RUNNING, JobStatus.RUNNING), else_=JobStatus.PENDING
            ),
            "attempts": case((restart, 0), else_=job.attempts),
            "run_after": case(
                (restart, new.run_after), (sooner, new.run_after), else_=job.run_after
            ),  # fmt: skip
            "last_error": case((restart, null()), else_=job.last_error),
            "finished_at": null(),
        },
    )


async def list_jobs(
    session: AsyncSession,
    *,
    status: str | None = None,
    kind: str | None = None,
    shop_id: int | None = None,
    limit: int = 50,
) -> Sequence[Job]:
    """Jobs, newest first."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Job.status == status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if shop_id is not None:
        query = query.where(Job.shop_id == shop_id)
    return (await session.scalars(query)).all()


async def retry(
    session: AsyncSession,
    *,
    job_ids: Sequence[int] = (),
    kind: str | None = None,
    shop_id: int | None = None,
) -> int:
    """Queue parked jobs again with a fresh count of attempts; returns how many. Named by id,
    a finished job is run again too (a handler must be safe to run twice anyway: a runner that
    dies after the work but before recording it runs it again); a waiting or running one is
    left as it is."""
    where = [Job.status == JobStatus.FAILED]
    if job_ids:
        where = [Job.id.in_(list(job_ids)), Job.status.in_([JobStatus.FAILED, JobStatus.DONE])]
    if kind is not None:
        where.append(Job.kind == kind)
    if shop_id is not None:
        where.append(Job.shop_id == shop_id)
    return await queue.requeue(session, JOBS, utcnow(), where, {Job.finished_at: None})
