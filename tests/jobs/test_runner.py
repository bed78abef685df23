"""The runner's loop: it yields to webhook intake in its process, and runs periodic tasks for
active shops only."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from app.db import Database
from app.jobs import periodic
from app.jobs.periodic import Periodic
from app.jobs.runner import Runner
from app.shops.models import Shop
from app.shops.service import ShopContext
from app.state import AppState
from tests.conftest import ShopifyShop, make_shopify_shop

TURN = 0.02


class BusySource:
    """Always has work; each batch takes TURN seconds, during which intake accepts an event
    if ``intake_busy``."""

    name = "busy"

    def __init__(self, wake: asyncio.Event, intake_busy: bool) -> None:
        self.wake = wake
        self.intake_busy = intake_busy
        self.working = 0.0
        self.limits: list[int | None] = []

    async def run_once(self, now: datetime | None = None, limit: int | None = None) -> int:
        self.limits.append(limit)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.sleep(TURN)
        if self.intake_busy:
            self.wake.set()  # as Intake's on_accepted does
        self.working += loop.time() - started
        return 1

    async def close(self) -> None:
        return None


async def _share_of_time(
    state: AppState, intake_busy: bool, seconds: float = 0.6
) -> tuple[float, list[int | None]]:
    wake = asyncio.Event()
    source = BusySource(wake, intake_busy)
    settings = state.settings.model_copy(
        update={"worker_busy_share": 0.2, "worker_busy_batch_size": 7}
    )
    runner = Runner(state.db, state.shops, settings, [source], [])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(runner.run_forever(stop, wake=wake))
    await asyncio.sleep(0.05)  # past the first scheduler tick
    source.working, started = 0.0, loop.time()
    await asyncio.sleep(seconds)
    elapsed = loop.time() - started
    stop.set()
    await asyncio.wait_for(task, 5)
    return source.working / elapsed, source.limits


class TestYieldingToIntake:
    async def test_while_webhooks_arrive_the_worker_takes_only_its_share(
        self, state: AppState
    ) -> None:
        share, limits = await _share_of_time(state, intake_busy=True)
        assert share < 0.35
        assert limits[0] is None  # its own batch size …
        assert set(limits[1:]) == {7}  # … then smaller turns while deliveries keep coming

    async def test_when_intake_is_quiet_the_worker_runs_flat_out(self, state: AppState) -> None:
        share, limits = await _share_of_time(state, intake_busy=False)
        assert share > 0.7
        assert set(limits) == {None}


class StuckSource:
    """A job waiting for a store that does not answer (until ``answer`` is set)."""

    name = "stuck"

    def __init__(self) -> None:
        self.answer = asyncio.Event()
        self.turns = 0

    async def run_once(self, now: datetime | None = None, limit: int | None = None) -> int:
        self.turns += 1
        await self.answer.wait()
        return 1

    async def close(self) -> None:
        return None


class TestSourcesRunApart:
    async def test_events_keep_being_processed_while_a_job_waits_for_its_store(
        self, state: AppState
    ) -> None:
        wake = asyncio.Event()
        events, job = BusySource(wake, intake_busy=False), StuckSource()
        runner = Runner(state.db, state.shops, state.settings, [events, job], [])
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run_forever(stop, wake=wake))
        await asyncio.sleep(0.4)
        assert job.turns == 1  # still waiting for its store …
        assert len(events.limits) >= 5  # … while events had turn after turn
        job.answer.set()
        stop.set()
        await asyncio.wait_for(task, 5)


class CountingSource:
    """Batches that wait for ``release``; counts how many are applied at once."""

    name = "counting"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.now = 0
        self.most = 0

    async def run_once(self, now: datetime | None = None, limit: int | None = None) -> int:
        self.now += 1
        self.most = max(self.most, self.now)
        await self.release.wait()
        self.now -= 1
        return 0

    async def close(self) -> None:
        return None


class TestEventStreams:
    async def test_a_worker_on_postgresql_applies_its_streams_batches_at_once(
        self, state: AppState
    ) -> None:
        """`vafa worker` (no intake in its process): on PostgreSQL one batch's Python work runs
        while another waits for the database; SQLite has one writer, so one stream."""
        events = CountingSource()
        settings = state.settings.model_copy(update={"worker_event_streams": 3})
        runner = Runner(state.db, state.shops, settings, [events], [])
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run_forever(stop))
        await asyncio.sleep(0.3)
        assert events.most == (1 if state.db.is_sqlite else 3)
        stop.set()
        events.release.set()
        await asyncio.wait_for(task, 5)

    async def test_inside_vafa_serve_the_worker_keeps_one_stream(self, state: AppState) -> None:
        events = CountingSource()
        settings = state.settings.model_copy(update={"worker_event_streams": 3})
        runner = Runner(state.db, state.shops, settings, [events], [])
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run_forever(stop, wake=asyncio.Event()))
        await asyncio.sleep(0.3)
        assert events.most == 1
        stop.set()
        events.release.set()
        await asyncio.wait_for(task, 5)


class TestPeriodic:
    async def test_a_periodic_task_runs_for_active_and_paused_shops_not_disabled_ones(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        # A paused shop's points are still released and expired (only calls to its store wait).
        paused = await make_shopify_shop(state, domain="paused.myshopify.com")
        disabled = await make_shopify_shop(state, domain="other.myshopify.com")
        async with state.db.write() as session:
            for shop_id, status in ((paused.shop_id, "paused"), (disabled.shop_id, "disabled")):
                await session.execute(update(Shop).where(Shop.id == shop_id).values(status=status))
        seen: list[int] = []

        async def task(db: Database, shop: ShopContext, now: datetime) -> int:
            seen.append(shop.shop_id)
            return 2

        runner = Runner(state.db, state.shops, state.settings, [], [Periodic("swept", task)])
        assert await runner.run_scheduled() == {"swept": 4}
        assert seen == [shopify_shop.shop_id, paused.shop_id]

    async def test_of_several_runners_ticking_in_one_interval_one_does_each_shops_work(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        # Two `vafa worker` processes started together tick together: without the claim each
        # did every shop's periodic work, and waited on the other's locks to do it.
        other = await make_shopify_shop(state, domain="other.myshopify.com")
        seen: list[int] = []

        async def task(db: Database, shop: ShopContext, now: datetime) -> int:
            seen.append(shop.shop_id)
            await asyncio.sleep(0.01)  # the other runner's tick arrives meanwhile
            return 1

        def runner() -> Runner:
            return Runner(state.db, state.shops, state.settings, [], [Periodic("swept", task)])

        interval = state.settings.scheduler_interval_seconds
        start = datetime.fromtimestamp(time.time() // interval * interval, UTC)
        first, second = runner(), runner()
        counts = await asyncio.gather(
            first.run_scheduled(start + timedelta(seconds=1), claimed=True),
            second.run_scheduled(start + timedelta(seconds=2), claimed=True),
        )
        assert sorted(seen) == sorted([shopify_shop.shop_id, other.shop_id])
        assert sum(c["swept"] for c in counts) == 2
        # Later in the same interval: nothing; in the next one, each shop once again.
        assert await second.run_scheduled(
            start + timedelta(seconds=interval - 1), claimed=True
        ) == {"swept": 0}
        later = start + timedelta(seconds=interval + 1)
        await asyncio.gather(
            first.run_scheduled(later, claimed=True), second.run_scheduled(later, claimed=True)
        )
        assert len(seen) == 4
        assert sorted(seen[2:]) == sorted([shopify_shop.shop_id, other.shop_id])
        # A tick asked for by hand (`run_scheduled()`, as tests and tools do) runs for all.
        assert await first.run_scheduled(later) == {"swept": 2}

    async def test_a_claim_that_fails_for_one_shop_leaves_the_others_their_tick(
        self, state: AppState, shopify_shop: ShopifyShop, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        other = await make_shopify_shop(state, domain="other.myshopify.com")
        claim = periodic.claim_tick

        async def flaky(db: Database, shop_id: int, now: datetime, interval: float) -> bool:
            if shop_id == shopify_shop.shop_id:
                raise ConnectionResetError("the database went away for a moment")
            return await claim(db, shop_id, now, interval)

        monkeypatch.setattr(periodic, "claim_tick", flaky)
        seen: list[int] = []

        async def task(db: Database, shop: ShopContext, now: datetime) -> int:
            seen.append(shop.shop_id)
            return 1

        runner = Runner(state.db, state.shops, state.settings, [], [Periodic("swept", task)])
        assert await runner.run_scheduled(claimed=True) == {"swept": 1}
        assert seen == [other.shop_id]
