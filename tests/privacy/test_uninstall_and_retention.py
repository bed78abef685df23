"""app/uninstalled pauses the shop at once (no job runs, no call reaches the store with the dead
token) and keeps its data; a shop's retention empties old processed webhook bodies."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update

from app.jobs.models import Job, JobStatus
from app.orm import utcnow
from app.rewards.tasks import CREATE_CODE
from app.shops.models import Shop, ShopStatus
from app.state import AppState
from app.webhooks.models import WebhookEvent
from tests.conftest import ShopifyShop, fixture_json
from tests.fakes.shopify import FakeShopify
from tests.payloads import dumps, shopify_order
from tests.privacy.scenario import EMAIL, build, deliver, settle, traces, vafa


class TestUninstalled:
    async def test_the_shop_is_paused_its_jobs_wait_and_its_data_stays(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        s = await build(client, state, fake_shopify)
        calls = len(fake_shopify.requests)
        await deliver(
            client, s.shop, "app/uninstalled", fixture_json("shopify/app-uninstalled.json")
        )
        await state.worker.drain()  # the event alone: no scheduler tick needed
        async with state.db.read() as session:
            shop = await session.get(Shop, s.shop.shop_id)
        assert shop is not None
        assert shop.status == ShopStatus.PAUSED
        assert shop.status_reason is not None
        assert "uninstalled" in shop.status_reason

        # A redemption asked for now waits: its job would call the store with the dead token.
        r = await client.post(
            f"/api/v1/members/{s.customer_id}/redemptions",
            json={"reward_id": 1, "idempotency_key": "after-uninstall"},
            headers=s.shop.auth,
        )
        assert r.status_code in (200, 201, 202), r.text
        done = await _jobs(state, s.shop.shop_id, JobStatus.DONE)
        await state.worker.drain(utcnow() + timedelta(hours=1))  # every job due by then
        assert CREATE_CODE in await _jobs(state, s.shop.shop_id, JobStatus.PENDING)
        assert await _jobs(state, s.shop.shop_id, JobStatus.DONE) == done
        assert len(fake_shopify.requests) == calls
        # Its deliveries are still kept and applied; nothing of it is deleted.
        body = dumps(shopify_order(9300, customer_id=int(s.customer_id), merchandise="20.00"))
        assert s.shop.domain is not None
        headers = _signed(s.shop.webhook_secret, s.shop.domain, body)
        r = await client.post("/webhooks/shopify", content=body, headers=headers)
        assert r.json()["status"] == "accepted"
        await settle(state)
        assert await traces(state, EMAIL) != []


async def _jobs(state: AppState, shop_id: int, status: str) -> list[str]:
    async with state.db.read() as session:
        query = select(Job.kind).where(Job.shop_id == shop_id, Job.status == status)
        return sorted((await session.scalars(query.order_by(Job.id))).all())


def _signed(secret: str, domain: str, body: bytes) -> dict[str, str]:
    return ShopifyShop(0, "", domain, secret).headers(body, "orders/paid")


async def _bodies(state: AppState, shop_id: int) -> dict[int, bytes]:
    async with state.db.read() as session:
        rows = await session.execute(
            select(WebhookEvent.id, WebhookEvent.body).where(WebhookEvent.shop_id == shop_id)
        )
        return {row.id: row.body for row in rows}


class TestRetention:
    async def test_bodies_are_kept_by_default_and_cleared_past_the_shops_days(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        shopify_shop: ShopifyShop,
    ) -> None:
        for i in range(3):
            body = dumps(shopify_order(7000 + i, merchandise="10.00"))
            r = await client.post("/webhooks/shopify", content=body,
                                  headers=shopify_shop.headers(body, "orders/paid"))  # fmt: skip
            assert r.status_code == 200
        await state.worker.drain()
        # 7000 came 40 days ago, 7001 10 days ago, 7002 now; a fourth, old, is not processed yet.
        ids = sorted(await _bodies(state, shopify_shop.shop_id))
        now = utcnow()
        async with state.db.write() as session:
            for event_id, age in zip(ids, (40, 10, 0), strict=True):
                await session.execute(update(WebhookEvent).where(WebhookEvent.id == event_id)
                                      .values(received_at=now - timedelta(days=age)))  # fmt: skip
        body = dumps(shopify_order(7009, merchandise="10.00"))
        await client.post("/webhooks/shopify", content=body,
                          headers=shopify_shop.headers(body, "orders/paid"))  # fmt: skip
        async with state.db.write() as session:
            await session.execute(update(WebhookEvent).where(WebhookEvent.status == "pending")
                                  .values(received_at=now - timedelta(days=90)))  # fmt: skip

        await state.worker.run_scheduled(now)
        assert all(await _bodies(state, shopify_shop.shop_id)), "the default keeps every body"

        r = await client.get("/api/v1/privacy/settings", headers=shopify_shop.auth)
        assert r.json() == {"webhook_body_retention_days": None}
        r = await client.put("/api/v1/privacy/settings", headers=shopify_shop.auth,
                             json={"webhook_body_retention_days": 30})  # fmt: skip
        assert r.status_code == 200, r.text
        await state.worker.run_scheduled(now)
        bodies = await _bodies(state, shopify_shop.shop_id)
        assert bodies[ids[0]] == b""
        assert bodies[ids[1]] != b""
        assert bodies[ids[2]] != b""
        assert all(bodies[i] for i in bodies if i not in ids), "a pending event keeps its body"

    async def test_a_bad_retention_is_refused_with_the_error_shape(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        for bad in ({"webhook_body_retention_days": -1}, {"webhook_body_retention_days": "x"},
                    {"retention": 3}):  # fmt: skip
            r = await client.put("/api/v1/privacy/settings", headers=shopify_shop.auth, json=bad)
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == "validation_error"

    async def test_the_cli_sets_and_shows_the_retention(
        self, shopify_shop: ShopifyShop, env: str
    ) -> None:
        shop = str(shopify_shop.shop_id)
        shown = vafa("privacy", "retention", "--shop", shop)
        assert shown.exit_code == 0, shown.output
        assert '"webhook_body_retention_days":null' in shown.stdout
        assert (
            '"webhook_body_retention_days":7'
            in vafa("privacy", "retention", "--shop", shop, "--days", "7").stdout
        )
        kept = vafa("privacy", "retention", "--shop", shop, "--keep")
        assert '"webhook_body_retention_days":null' in kept.stdout
