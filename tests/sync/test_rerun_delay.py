"""A job kind's rerun delay: a job enqueued again while it runs runs once more, that much
later, with what was enqueued meanwhile coalesced into that one run."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from app.jobs import service as jobs
from app.jobs.kinds import JobContext, JobKinds
from app.jobs.models import Job, JobStatus
from app.orm import utcnow
from app.state import AppState, build_runner
from tests.conftest import ShopifyShop


class TestRerunDelay:
    async def test_a_job_enqueued_while_it_runs_runs_again_after_the_delay(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        seen: list[Any] = []

        async def handler(ctx: JobContext, payload: Mapping[str, Any]) -> None:
            seen.append(payload["n"])
            if payload["n"] == 1:  # a change arrives while the first run is under way
                async with state.db.write() as session:
                    await jobs.enqueue(session, shopify_shop.shop_id, "w", {"n": 2}, key="m")

        kinds = JobKinds()
        kinds.register("w", handler, rerun_delay=timedelta(seconds=30))
        runner = build_runner(state.db, state.shops, state.settings, kinds)
        async with state.db.write() as session:
            job_id = await jobs.enqueue(session, shopify_shop.shop_id, "w", {"n": 1}, key="m")
        assert await runner.drain() == 1
        async with state.db.read() as session:
            job = await session.get(Job, job_id)
        assert job is not None
        assert job.status == JobStatus.PENDING
        assert job.run_after > utcnow() + timedelta(seconds=25)
        assert await runner.drain() == 0  # not before the delay
        assert await runner.drain(now=utcnow() + timedelta(seconds=31)) == 1
        assert seen == [1, 2]
        await asyncio.gather(*(source.close() for source in runner.sources))
