"""Stored events on the runner: exactly-once across crashes, retries, parking and replay."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from app.jobs.periodic import Periodic
from app.jobs.runner import Runner
from app.ledger.models import LedgerTransaction
from app.ledger.verify import verify_shop
from app.members import service as members
from app.program import reconcile
from app.shops.models import Shop
from app.state import AppState, build_runner
from app.webhooks import processing
from app.webhooks.models import EventStatus, WebhookEvent
from app.webhooks.processing import replay
from tests.conftest import ShopifyShop, fixture_json
from tests.logcapture import EMAIL, CapturedLog, fail_with_email
from tests.payloads import dumps, shopify_order

ORDERS = 30


async def _deliver_orders(client: httpx.AsyncClient, shop: ShopifyShop, count: int) -> None:
    for i in range(count):
        # order i is worth 10 + i points, for one of three customers
        body = dumps(shopify_order(5000 + i, customer_id=100 + i % 3, merchandise=f"{10 + i}.50"))
        headers = shop.headers(body, "orders/paid", event_id=f"evt-{i}")
        r = await client.post("/webhooks/shopify", content=body, headers=headers)
        assert r.status_code == 200


async def _statuses(state: AppState) -> dict[str, int]:
    async with state.db.read() as session:
        rows = await session.execute(
            select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
        )
        return {str(status): int(count) for status, count in rows.all()}


async def _earn_count(state: AppState) -> int:
    async with state.db.read() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.kind == "earn")
            )
            or 0
        )


async def _available(client: httpx.AsyncClient, shop: ShopifyShop, customer: int) -> int:
    r = await client.get(f"/api/v1/members/{customer}", headers=shop.auth)
    value: int = r.json()["points"]["available"]
    return value


class TestCrash:
    async def test_worker_killed_mid_batch_loses_nothing_and_counts_nothing_twice(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        shopify_shop: ShopifyShop,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await _deliver_orders(client, shopify_shop, ORDERS)
        settings = state.settings.model_copy(update={"worker_batch_size": 10})
        real_reconcile = reconcile.reconcile_many
        calls = 0
        stuck = asyncio.Event()

        async def reconcile_then_hang(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:  # in the second batch of ten, before anything of it is written
                stuck.set()
                await asyncio.Event().wait()  # the worker is "killed" here
            return await real_reconcile(*args, **kwargs)

        monkeypatch.setattr(reconcile, "reconcile_many", reconcile_then_hang)
        task = asyncio.create_task(
            build_runner(state.db, state.shops, settings).run_forever(asyncio.Event())
        )
        await asyncio.wait_for(stuck.wait(), timeout=30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        # The first batch committed; the second rolled back whole; nothing else was touched.
        assert await _statuses(state) == {"processed": 10, "pending": 20}
        assert await _earn_count(state) == 10

        monkeypatch.setattr(reconcile, "reconcile_many", real_reconcile)
        await build_runner(state.db, state.shops, settings).drain()  # the restarted worker
        assert await _statuses(state) == {"processed": ORDERS}
        assert await _earn_count(state) == ORDERS
        for customer in (100, 101, 102):
            expected = sum(10 + i for i in range(ORDERS) if i % 3 == customer - 100)
            assert await _available(client, shopify_shop, customer) == expected
        async with state.db.read() as session:
            assert await verify_shop(session, shopify_shop.shop_id) == []


class TestFailures:
    async def test_a_failing_event_is_retried_then_parked_without_blocking_others(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        shopify_shop: ShopifyShop,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await _deliver_orders(client, shopify_shop, 5)
        real_absorb = reconcile.absorb

        def fail_for_one_order(order: Any, snap: Any) -> None:
            if snap.order_id == "5002":
                raise RuntimeError("simulated outage for order 5002")
            real_absorb(order, snap)

        monkeypatch.setattr(reconcile, "absorb", fail_for_one_order)
        settings = state.settings.model_copy(update={"worker_max_attempts": 3})
        worker = build_runner(state.db, state.shops, settings)
        await worker.drain()

        assert await _statuses(state) == {"processed": 4, "failed": 1}
        async with state.db.read() as session:
            failed = await session.scalar(
                select(WebhookEvent).where(WebhookEvent.status == EventStatus.FAILED)
            )
        assert failed is not None
        assert failed.attempts == 3
        assert failed.last_error == "RuntimeError: simulated outage for order 5002"
        assert await _earn_count(state) == 4

        # The operator fixes the cause and replays the parked event.
        monkeypatch.setattr(reconcile, "absorb", real_absorb)
        assert await replay(state.db, shop_id=shopify_shop.shop_id, event_ids=[]) == 1
        await worker.drain()
        assert await _statuses(state) == {"processed": 5}
        assert await _earn_count(state) == 5

    async def test_replaying_processed_events_posts_nothing_new(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        await _deliver_orders(client, shopify_shop, 6)
        await state.worker.drain()
        before = [await _available(client, shopify_shop, c) for c in (100, 101, 102)]
        assert await replay(state.db, shop_id=None, event_ids=[], status="processed") == 6
        await state.worker.drain()
        assert [await _available(client, shopify_shop, c) for c in (100, 101, 102)] == before
        assert await _earn_count(state) == 6


class TestConcurrentWorkers:
    async def test_two_workers_on_one_queue_process_every_event_exactly_once(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        await _deliver_orders(client, shopify_shop, ORDERS)
        settings = state.settings.model_copy(update={"worker_batch_size": 4})
        workers = [build_runner(state.db, state.shops, settings) for _ in range(2)]
        counts = await asyncio.gather(*(w.drain() for w in workers))
        assert sum(counts) >= ORDERS
        assert await _statuses(state) == {"processed": ORDERS}
        assert await _earn_count(state) == ORDERS
        async with state.db.read() as session:
            assert await verify_shop(session, shopify_shop.shop_id) == []

    async def test_events_of_one_new_order_in_two_workers_batches_earn_it_once(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        """orders/create, orders/paid and orders/updated of each order, split across the two
        workers' batches of three: both may take an order for new, the second to store it
        applies its batch again, and each order earns once."""
        for i in range(ORDERS // 3):
            order = shopify_order(7000 + i, customer_id=100 + i % 3, merchandise=f"{10 + i}.00")
            for n, topic in enumerate(("orders/create", "orders/paid", "orders/updated")):
                body = dumps({**order, "updated_at": f"2026-01-0{n + 1}T10:00:00Z"})
                headers = shopify_shop.headers(body, topic, event_id=f"evt-{i}-{n}")
                r = await client.post("/webhooks/shopify", content=body, headers=headers)
                assert r.status_code == 200
        settings = state.settings.model_copy(update={"worker_batch_size": 2})
        workers = [build_runner(state.db, state.shops, settings) for _ in range(2)]
        await asyncio.gather(*(w.drain() for w in workers))
        assert await _statuses(state) == {"processed": ORDERS // 3 * 3}
        assert await _earn_count(state) == ORDERS // 3
        async with state.db.read() as session:
            assert await verify_shop(session, shopify_shop.shop_id) == []
            failed = await session.scalar(
                select(func.count()).where(WebhookEvent.last_error.is_not(None))
            )
        assert failed == 0


class TestNewOrderRace:
    async def test_an_order_stored_by_another_transaction_meanwhile_refuses_the_save(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        shop_id = shopify_shop.shop_id
        async with state.db.write() as session:
            [order] = (await reconcile.lock_orders(session, shop_id, {"9001"})).values()
            assert order.id is None  # new: stored when saved
            order.known = True
            # as another worker's transaction would have, between the two
            other = reconcile.OrderState(**{**_fields(order), "id": None, "name": "#other"})
            await reconcile.save_orders(session, shop_id, [other])
            with pytest.raises(reconcile.OrderRace):
                await reconcile.save_orders(session, shop_id, [order])

    async def test_a_batch_refused_so_is_applied_again_and_its_event_earns_once(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        shopify_shop: ShopifyShop,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await _deliver_orders(client, shopify_shop, 1)
        save, raced = reconcile.save_orders, []

        async def race_once(session: Any, shop_id: int, orders: Any) -> None:
            if not raced:
                raced.append(True)
                raise reconcile.OrderRace("stored by another transaction")
            await save(session, shop_id, orders)

        alone: list[int] = []
        run_alone = processing.EventProcessor._run_alone

        async def one_by_one(self: Any, event_id: int, *args: Any) -> None:
            alone.append(event_id)
            await run_alone(self, event_id, *args)

        monkeypatch.setattr(reconcile, "save_orders", race_once)
        monkeypatch.setattr(processing.EventProcessor, "_run_alone", one_by_one)
        await state.worker.drain()
        assert raced == [True]
        assert alone == []  # the batch was applied again whole, not split
        assert await _statuses(state) == {"processed": 1}
        assert await _earn_count(state) == 1
        async with state.db.read() as session:
            event = await session.scalar(select(WebhookEvent))
        assert event is not None
        assert (event.attempts, event.last_error) == (1, None)


def _fields(order: reconcile.OrderState) -> dict[str, Any]:
    return {name: getattr(order, name) for name in order.__slots__ if name != "read"}


class TestScheduledJobs:
    async def test_a_failing_scheduled_job_never_stops_event_processing(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        shopify_shop: ShopifyShop,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        async def always_fails(*_: Any) -> int:
            raise RuntimeError("release job broken")

        settings = state.settings.model_copy(
            update={"scheduler_interval_seconds": 0.0, "worker_idle_sleep_seconds": 0.01}
        )
        runner = build_runner(state.db, state.shops, settings)
        worker = Runner(state.db, state.shops, settings, runner.sources,
                        [Periodic("broken", always_fails)])  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run_forever(stop))
        await _deliver_orders(client, shopify_shop, 3)
        for _ in range(500):
            if await _statuses(state) == {"processed": 3}:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        assert await _statuses(state) == {"processed": 3}


async def _set_shop_status(state: AppState, shop_id: int, status: str) -> None:
    async with state.db.write() as session:
        await session.execute(update(Shop).where(Shop.id == shop_id).values(status=status))
    state.shops.forget()


class TestInactiveShop:
    async def test_an_inactive_shops_events_wait_unprocessed_and_unfailed(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        await _deliver_orders(client, shopify_shop, 4)
        await _set_shop_status(state, shopify_shop.shop_id, "disabled")
        assert await state.worker.drain() == 0
        assert await _statuses(state) == {"pending": 4}
        async with state.db.read() as session:
            attempts = await session.scalars(select(WebhookEvent.attempts))
            assert set(attempts) == {0}
        assert await _earn_count(state) == 0

        await _set_shop_status(state, shopify_shop.shop_id, "active")
        assert await state.worker.drain() == 4
        assert await _statuses(state) == {"processed": 4}


class TestPersonalDataInErrors:
    async def test_a_failing_events_email_never_reaches_last_error_or_the_log(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        shopify_shop: ShopifyShop,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        captured = CapturedLog()
        monkeypatch.setattr(processing, "log", captured.logger)

        async def apply_customer(session: Any, shop_id: int, snap: Any) -> None:
            await fail_with_email(session, shop_id, snap.email)

        monkeypatch.setattr(members, "apply_customer", apply_customer)
        customer = {**fixture_json("shopify/customer.json"), "email": EMAIL}
        body = dumps(customer)
        headers = shopify_shop.headers(body, "customers/update", event_id="evt-customer")
        assert (await client.post("/webhooks/shopify", content=body, headers=headers)).is_success
        settings = state.settings.model_copy(update={"worker_max_attempts": 2})
        await build_runner(state.db, state.shops, settings).drain()

        async with state.db.read() as session:
            event = await session.scalar(select(WebhookEvent))
        assert event is not None
        assert event.status == EventStatus.FAILED
        assert event.last_error is not None
        assert event.last_error.startswith(("DBAPIError", "IntegrityError"))  # its kind
        assert EMAIL not in event.last_error
        assert "event parked" in captured.events[-1]
        assert str(event.id) in captured.events[-1]
        assert EMAIL not in captured.text
