"""Wake-ups instead of polls: the worker starts on a redemption's job when it is enqueued, and
the request waiting for the code answers when the job has settled it, not at its next poll.

Every test here sets the polls to a minute: only a wake-up can make it pass in time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.jobs.notify import notify
from app.main import create_app
from app.rewards import waits
from app.rewards.models import Redemption, RedemptionStatus
from app.state import AppState
from tests.conftest import USES_POSTGRES
from tests.rewards.conftest import StoreShop, add_reward, give_points, redeem

POLL = 60.0


@pytest.fixture
def slow_polls(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(waits, "FALLBACK_SECONDS", POLL)
    return settings.model_copy(
        update={"worker_idle_sleep_seconds": POLL, "redemption_wait_seconds": 3.0}
    )


@pytest.fixture
async def api_and_worker(
    slow_polls: Settings, db: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, AppState]]:
    """The API, and a worker idle in its first minute-long sleep: on PostgreSQL as `vafa
    worker` runs (its own state, woken only by NOTIFY), on SQLite inside the API's process
    (woken by the endpoint), the only way SQLite runs."""
    api = AppState.build(slow_polls, db)
    worker = api if db.is_sqlite else AppState.build(slow_polls, db)
    stop = asyncio.Event()
    wake = api.wake_worker if db.is_sqlite else None
    task = asyncio.create_task(worker.worker.run_forever(stop, wake=wake))
    await asyncio.sleep(0.5)  # its first turn found nothing: it sleeps
    try:
        transport = httpx.ASGITransport(app=create_app(slow_polls, api))
        async with httpx.AsyncClient(transport=transport, base_url="http://vafa.test") as c:
            yield c, api
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


class TestWakeUps:
    async def test_the_waiting_request_answers_with_the_code_once_it_is_made(
        self, api_and_worker: tuple[httpx.AsyncClient, AppState], on_shopify: StoreShop
    ) -> None:
        client, _ = api_and_worker
        reward_id = await add_reward(client, on_shopify)
        await give_points(client, on_shopify, 100)
        started = time.monotonic()
        r = await redeem(client, on_shopify, reward_id)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "issued"
        # Polls alone: the worker would sleep a minute, the request answer 202 after 3 s.
        assert time.monotonic() - started < 2.5

    async def test_a_commit_wakes_the_waiting_request_and_a_rollback_does_not(
        self, state: AppState, on_shopify: StoreShop
    ) -> None:
        with waits.waiting(on_shopify.shop_id, 41) as settled:
            with contextlib.suppress(RuntimeError):
                async with state.db.write() as session:
                    await waits.announce(session, on_shopify.shop_id, 41)
                    raise RuntimeError("rolled back")
            assert not settled.is_set()
            async with state.db.write() as session:
                await waits.announce(session, on_shopify.shop_id, 41)
                assert not settled.is_set()  # not before the commit
            assert settled.is_set()

    async def test_another_process_is_woken_by_notify_on_postgresql(
        self, state: AppState, on_shopify: StoreShop
    ) -> None:
        listener = waits.listener(state.db)
        if not USES_POSTGRES:  # SQLite: no other process runs a worker, nothing to listen to
            assert listener is None
            return
        assert listener is not None
        listener.start()
        try:
            await asyncio.wait_for(listener.listening.wait(), 10)
            with waits.waiting(on_shopify.shop_id, 42) as settled:
                async with state.db.write() as session:  # NOTIFY alone: no in-process wake
                    await notify(session, waits.CHANNEL, f"{on_shopify.shop_id}:42")
                await asyncio.wait_for(settled.wait(), 10)
        finally:
            await listener.close()

    async def test_a_worker_woken_settles_the_redemption_without_a_waiting_request(
        self,
        api_and_worker: tuple[httpx.AsyncClient, AppState],
        on_shopify: StoreShop,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        client, api = api_and_worker
        monkeypatch.setattr(api.settings, "redemption_wait_seconds", 0.0)
        reward_id = await add_reward(client, on_shopify)
        await give_points(client, on_shopify, 100)
        r = await redeem(client, on_shopify, reward_id)
        assert r.status_code == 202  # answered at once
        for _ in range(100):
            async with api.db.read() as session:
                status = await session.scalar(
                    select(Redemption.status).where(Redemption.id == r.json()["id"])
                )
            if status == RedemptionStatus.ISSUED:
                break
            await asyncio.sleep(0.05)
        assert status == RedemptionStatus.ISSUED  # within 5 s, not the worker's minute
