"""The store's copy of a member's balance: written after every change, coalesced, never older
over newer, and skipped for customers the store does not know."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from app.jobs.models import JobStatus
from app.orm import utcnow
from app.state import AppState
from app.sync.writeback import BALANCE_WRITE
from tests.fakes.shopify import FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce
from tests.payloads import dumps, shopify_order
from tests.sync.helpers import (
    CUSTOMER,
    adjust,
    balance,
    jobs_of,
    run_due_jobs,
    shopify_on,
    signed,
    woo_on,
)

WRITES = ("VafaSetBalance", "VafaSetBalanceNoTier")


def writes(fake: FakeShopify) -> list[int]:
    """The points each balance write to the fake carried, in order."""
    return [
        int(request.variables["metafields"][0]["value"])
        for request in fake.graphql_requests()
        if request.operation in WRITES and request.status == 200 and not request.throttled
    ]


class TestWriteBack:
    async def test_an_adjustment_reaches_the_shopify_customers_metafields(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.add_customer(CUSTOMER)
        shop_id = await shopify_on(state, fake_shopify)
        await adjust(state, shop_id, 120)
        [job] = await jobs_of(state, shop_id, BALANCE_WRITE)
        assert (job.dedupe_key, job.payload) == (f"member:{CUSTOMER}", {"customer_id": CUSTOMER})
        # Not at once: a burst of changes is one write.
        assert job.run_after > utcnow() + timedelta(seconds=0.5)
        await run_due_jobs(state)
        assert fake_shopify.metafield(CUSTOMER, "points")["value"] == "120"
        assert fake_shopify.metafield(CUSTOMER, "points")["type"] == "number_integer"
        assert (await jobs_of(state, shop_id, BALANCE_WRITE))[0].status == JobStatus.DONE

    async def test_the_tier_is_written_beside_the_points(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        from sqlalchemy import update

        from app.members.models import Member

        fake_shopify.add_customer(CUSTOMER)
        shop_id = await shopify_on(state, fake_shopify)
        await adjust(state, shop_id, 1500)
        async with state.db.write() as session:
            await session.execute(update(Member).values(tier="silver"))
        await run_due_jobs(state)
        assert fake_shopify.metafield(CUSTOMER, "points")["value"] == "1500"
        assert fake_shopify.metafield(CUSTOMER, "tier")["value"] == "silver"

    async def test_a_woocommerce_customer_gets_meta_data(
        self, state: AppState, woo_store: FakeWooCommerce
    ) -> None:
        customer = str(woo_store.add_customer("sara@example.com")["id"])
        shop = await woo_on(state, woo_store)
        await adjust(state, shop.shop_id, 42, customer)
        await run_due_jobs(state)
        assert woo_store.meta(customer) == {"vafa_points": "42", "vafa_tier": ""}

    async def test_points_earned_from_a_webhook_are_written_back(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        # The write-back hangs on the ledger, so every way points move is covered: here an
        # order's earn, applied by the event processor.
        shop_id = await shopify_on(state, fake_shopify)
        fake_shopify.add_customer(1073339475)
        body = dumps(shopify_order(1001, customer_id=1073339475, merchandise="181.09"))
        response = await client.post(
            "/webhooks/shopify", content=body, headers=signed(body, "orders/paid")
        )
        assert response.status_code == 200
        await state.worker.drain()
        assert (await balance(state, shop_id, "1073339475")).available == 181
        await run_due_jobs(state)
        assert fake_shopify.metafield(1073339475, "points")["value"] == "181"

    async def test_a_change_rolled_back_asks_for_no_write(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        from app.members import adjustments

        shop_id = await shopify_on(state, fake_shopify)
        try:
            async with state.db.write() as session:
                await adjustments.adjust(
                    session, shop_id, CUSTOMER, 5, idempotency_key="x", reason="gift"
                )
                raise RuntimeError("the caller's transaction fails after the posting")
        except RuntimeError:
            pass
        assert await jobs_of(state, shop_id, BALANCE_WRITE) == []


class TestUnknownCustomers:
    async def test_a_customer_the_store_does_not_know_is_skipped_not_retried(
        self, state: AppState, fake_shopify: FakeShopify, woo_store: FakeWooCommerce
    ) -> None:
        shopify = await shopify_on(state, fake_shopify)  # no such customer on the fake
        woo = await woo_on(state, woo_store)
        await adjust(state, shopify, 10, "404404")
        await adjust(state, woo.shop_id, 10, "404404")
        await adjust(state, woo.shop_id, 10, "guest-7")  # not even a WooCommerce id
        await run_due_jobs(state)
        for shop_id in (shopify, woo.shop_id):
            for job in await jobs_of(state, shop_id, BALANCE_WRITE):
                assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 1, None)
        assert len(fake_shopify.graphql_requests("VafaSetBalanceNoTier")) == 1


class TestThrottled:
    async def test_a_write_the_store_throttles_waits_its_turn_without_spending_an_attempt(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        """Shopify's rate limit holds a burst of write-backs back; they are late, never failed:
        a throttled attempt is given back, due when the store said, its count kept."""
        fake_shopify.add_customer(CUSTOMER)
        shop_id = await shopify_on(state, fake_shopify)
        await adjust(state, shop_id, 120)
        fake_shopify.set_bucket(available=0, restore_rate=8)  # 2.5 s before a write is paid for
        for _ in range(3):
            await run_due_jobs(state, seconds=1)
            [job] = await jobs_of(state, shop_id, BALANCE_WRITE)
            assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
            assert job.last_error is not None
            assert "StoreThrottled" in job.last_error
            assert job.run_after > utcnow() + timedelta(seconds=2)
        assert writes(fake_shopify) == []
        fake_shopify.set_bucket(available=1000, restore_rate=100)
        # Throttled, this process counts the store's refill at half its rate (another worker
        # may spend from the same bucket): it knocks again after twice the store's 2.5 s.
        await asyncio.sleep(5.3)
        await state.worker.drain(now=job.run_after + timedelta(seconds=1))
        assert writes(fake_shopify) == [120]
        [job] = await jobs_of(state, shop_id, BALANCE_WRITE)
        assert (job.status, job.attempts) == (JobStatus.DONE, 1)


class TestCoalescing:
    async def test_thirty_changes_within_two_seconds_are_at_most_two_writes_the_last_final(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.add_customer(CUSTOMER)
        shop_id = await shopify_on(state, fake_shopify)
        stop = asyncio.Event()
        worker = asyncio.create_task(state.worker.run_forever(stop))
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            for i in range(30):  # one every 60 ms, spread over 1.8 s
                await asyncio.sleep(max(0.0, started + 0.06 * i - loop.time()))
                await adjust(state, shop_id, i + 1)
            elapsed = loop.time() - started
            final = (await balance(state, shop_id)).available
            assert final == sum(range(1, 31))
            for _ in range(100):  # the last write lands within the delay after the last change
                if writes(fake_shopify)[-1:] == [final]:
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(worker, timeout=10)
        # A write at most per delay of changes: 2 when the 30 took their 1.8 s; more only if a
        # busy machine spread them wider (no bound on the machine's speed here).
        delay = state.settings.writeback_delay_seconds
        assert 1 <= len(writes(fake_shopify)) <= 1 + int(elapsed / delay)
        assert writes(fake_shopify)[-1] == final
        # Never older over newer: each write carries at least what the one before did.
        assert writes(fake_shopify) == sorted(writes(fake_shopify))
