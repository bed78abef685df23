"""A store that refuses Vafa's credentials (401/403) pauses the shop: its jobs wait with their
attempts unspent, its webhooks are still kept and processed, `/metrics` and `vafa shop show`
say so, and `resume` lets the jobs run again."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from app.errors import Conflict
from app.jobs.models import JobStatus
from app.shops import service as shops
from app.shops.models import Shop
from app.state import AppState
from app.sync.writeback import BALANCE_WRITE
from tests.fakes.shopify import FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce
from tests.payloads import dumps, shopify_order
from tests.sync.helpers import CUSTOMER, adjust, balance, jobs_of, run_due_jobs, shopify_on, signed
from tests.test_metrics import _scrape

REVOKED = "shpat_revoked"


async def _shop(state: AppState, shop_id: int) -> Shop:
    async with state.db.read() as session:
        found = await session.scalar(select(Shop).where(Shop.id == shop_id))
    assert found is not None
    return found


async def _paused_shop(state: AppState, fake: FakeShopify) -> int:
    """A shop whose token the store refuses, with one write-back waiting for each of two
    members; the first attempt pauses it."""
    fake.add_customer(CUSTOMER)
    fake.add_customer("42")
    shop_id = await shopify_on(state, fake, token=REVOKED)
    await adjust(state, shop_id, 10)
    await adjust(state, shop_id, 20, "42")
    await run_due_jobs(state)
    return shop_id


class TestPause:
    async def test_a_refused_token_pauses_the_shop_and_spends_no_attempt(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        shop_id = await _paused_shop(state, fake_shopify)
        shop = await _shop(state, shop_id)
        assert shop.status == "paused"
        assert "401" in (shop.status_reason or "")
        assert shop.status_changed_at is not None
        shown = shops.describe(shop)
        assert (shown["status"], shown["status_reason"]) == ("paused", shop.status_reason)
        jobs = await jobs_of(state, shop_id, BALANCE_WRITE)
        assert [(j.status, j.attempts) for j in jobs] == [(JobStatus.PENDING, 0)] * 2
        # Jobs of a batch run at once (VAFA_JOBS_CONCURRENCY): the other member's job may have
        # been under way already; none is tried once the shop is paused.
        assert 1 <= len(fake_shopify.graphql_requests()) <= 2

    async def test_a_paused_shops_jobs_wait_however_often_the_worker_looks(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        shop_id = await _paused_shop(state, fake_shopify)
        calls = len(fake_shopify.graphql_requests())
        for _ in range(3):
            assert await run_due_jobs(state) == 0
        assert len(fake_shopify.graphql_requests()) == calls
        jobs = await jobs_of(state, shop_id, BALANCE_WRITE)
        assert {(j.status, j.attempts) for j in jobs} == {(JobStatus.PENDING, 0)}

    async def test_resume_runs_the_waiting_jobs_once_the_credentials_work(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        shop_id = await _paused_shop(state, fake_shopify)
        fake_shopify.tokens[REVOKED] = None  # the owner fixed the app's access
        async with state.db.write() as session:
            await shops.resume(session, shop_id)
        await run_due_jobs(state)
        assert (await _shop(state, shop_id)).status == "active"
        assert fake_shopify.metafield(CUSTOMER, "points")["value"] == "10"
        assert fake_shopify.metafield("42", "points")["value"] == "20"
        jobs = await jobs_of(state, shop_id, BALANCE_WRITE)
        assert {(j.status, j.attempts) for j in jobs} == {(JobStatus.DONE, 1)}

    async def test_a_disabled_shop_is_not_resumed(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        shop_id = await shopify_on(state, fake_shopify)
        async with state.db.write() as session:
            await shops.set_status(session, shop_id, "disabled")
        with pytest.raises(Conflict):
            async with state.db.write() as session:
                await shops.resume(session, shop_id)
        assert (await _shop(state, shop_id)).status == "disabled"


class TestPausedShopStillReceives:
    async def test_its_webhooks_are_accepted_and_processed(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        shop_id = await _paused_shop(state, fake_shopify)
        calls = len(fake_shopify.graphql_requests())
        body = dumps(shopify_order(1001, customer_id=int(CUSTOMER), merchandise="50.00"))
        response = await client.post(
            "/webhooks/shopify", content=body, headers=signed(body, "orders/paid")
        )
        assert response.status_code == 200
        assert response.json() == {"status": "accepted"}
        await state.worker.drain()
        assert (await balance(state, shop_id)).available == 60
        # … and its write-back waits with the others.
        assert len(fake_shopify.graphql_requests()) == calls

    async def test_its_admin_api_still_answers(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.add_customer(CUSTOMER)
        async with state.db.write() as session:
            new = await shops.add_shopify(
                session,
                state.vault,
                domain="club.myshopify.com",
                access_token=REVOKED,
                api_secret="hush",
                api_url=fake_shopify.base_url,
            )
        await adjust(state, new.shop_id, 10)
        await run_due_jobs(state)
        assert (await _shop(state, new.shop_id)).status == "paused"
        response = await client.get(
            f"/api/v1/members/{CUSTOMER}",
            headers={"Authorization": f"Bearer {new.admin_api_key}"},
        )
        assert response.status_code == 200
        assert response.json()["points"]["available"] == 10


class TestMetrics:
    async def test_shops_are_counted_by_status_at_scrape_time(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        before = await _scrape(client)
        assert before[("vafa_shops", frozenset({("status", "paused")}))] == 0
        await _paused_shop(state, fake_shopify)
        after = await _scrape(client)
        assert after[("vafa_shops", frozenset({("status", "paused")}))] == 1
        assert after[("vafa_shops", frozenset({("status", "active")}))] == 0
        assert after[("vafa_shops", frozenset({("status", "disabled")}))] == 0


class TestWooCommercePause:
    async def test_a_refused_consumer_key_pauses_the_shop_too(
        self, state: AppState, woo_store: FakeWooCommerce
    ) -> None:
        customer = str(woo_store.add_customer("sara@example.com")["id"])
        async with state.db.write() as session:
            new = await shops.add_woocommerce(
                session, state.vault, url=woo_store.url, consumer_key="ck_revoked",
                consumer_secret="cs_revoked",
            )  # fmt: skip
        await adjust(state, new.shop_id, 10, customer)
        await run_due_jobs(state)
        shop = await _shop(state, new.shop_id)
        assert shop.status == "paused"
        assert "401" in (shop.status_reason or "")
        [job] = await jobs_of(state, new.shop_id, BALANCE_WRITE)
        assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
        assert woo_store.meta(customer) == {}
