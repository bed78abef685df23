"""Parked webhook deliveries on the admin's jobs page: rejected ones (and failed ones) listed
with their reason, and replayed from the page by the same function as ``vafa events replay``:
a delivery rejected by a parser bug is applied once the parser is fixed, a body that is still
unusable is rejected again, and another shop's event is not touched."""

from __future__ import annotations

import asyncio
import html
import re

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import func, select, update

from app.admin import auth
from app.ledger.models import LedgerTransaction
from app.state import AppState
from app.webhooks import intake
from app.webhooks.models import EventStatus, WebhookEvent
from tests.admin.helpers import PASSWORD, AdminShop, admin_shop, csrf_of, sign_in
from tests.browser import Storefront
from tests.conftest import ShopifyShop, fixture_bytes

ORDER = fixture_bytes("shopify/orders-create.json")


async def _admin(state: AppState, shop: ShopifyShop) -> AdminShop:
    async with state.db.write() as db:
        await auth.add_user(db, shop.shop_id, "owner@club.example", PASSWORD)
    return AdminShop(shop.shop_id, shop.domain, "owner@club.example")


async def _deliver(
    client: httpx.AsyncClient, state: AppState, shop: ShopifyShop, body: bytes,
    answer: str = "rejected",
) -> WebhookEvent:  # fmt: skip
    r = await client.post("/webhooks/shopify", content=body,
                          headers=shop.headers(body, "orders/paid"))  # fmt: skip
    assert r.json() == {"status": answer}
    return (await _events(state, shop))[-1]


async def _events(state: AppState, shop: ShopifyShop) -> list[WebhookEvent]:
    async with state.db.read() as db:
        found = await db.scalars(
            select(WebhookEvent)
            .where(WebhookEvent.shop_id == shop.shop_id)
            .order_by(WebhookEvent.id)
        )
        return list(found.all())


async def _transactions(state: AppState, shop_id: int) -> int:
    async with state.db.read() as db:
        count = await db.scalar(
            select(func.count()).select_from(LedgerTransaction)
            .where(LedgerTransaction.shop_id == shop_id)
        )  # fmt: skip
        return int(count or 0)


def _row(page: str, event_id: int) -> str | None:
    found = re.search(rf'<tr data-event="{event_id}">(.*?)</tr>', page, re.S)
    return html.unescape(found.group(1)) if found else None


def _broken_parser(*args: object) -> None:
    raise RuntimeError("a bug in the order parser")


class TestReplayFromTheJobsPage:
    async def test_a_delivery_rejected_by_a_parser_bug_is_applied_once_replayed(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # fmt: skip
        monkeypatch.setattr(intake, "parse_body", _broken_parser)
        event = await _deliver(client, state, shopify_shop, ORDER)
        monkeypatch.undo()  # the parser is fixed (a new release)
        await sign_in(client, await _admin(state, shopify_shop))
        page = await client.get("/admin/jobs?lang=en")
        row = _row(page.text, event.id)
        assert row is not None
        assert "orders/paid" in row
        assert "Rejected" in row
        assert "the parser failed: RuntimeError at " in row
        assert await _transactions(state, shopify_shop.shop_id) == 0

        r = await client.post(f"/admin/events/{event.id}/replay", data={"csrf": csrf_of(page.text)})
        assert (r.status_code, r.headers["location"]) == (303, "/admin/jobs?done=replayed")
        after = await client.get(r.headers["location"])
        assert "Queued again: the event is processed in a moment." in after.text
        assert _row(after.text, event.id) is None
        await state.worker.drain()
        [processed] = await _events(state, shopify_shop)
        assert processed.status == EventStatus.PROCESSED
        assert await _transactions(state, shopify_shop.shop_id) == 1
        assert _row((await client.get("/admin/jobs")).text, event.id) is None

    async def test_a_body_still_unusable_is_rejected_again_with_its_reason(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        event = await _deliver(client, state, shopify_shop, ORDER[: len(ORDER) // 2])
        await sign_in(client, await _admin(state, shopify_shop))
        page = await client.get("/admin/jobs?lang=en")
        assert "not valid JSON" in (_row(page.text, event.id) or "")
        await client.post(f"/admin/events/{event.id}/replay", data={"csrf": csrf_of(page.text)})
        await state.worker.drain()
        [again] = await _events(state, shopify_shop)
        assert again.status == EventStatus.REJECTED
        assert "not valid JSON" in (_row((await client.get("/admin/jobs")).text, event.id) or "")
        assert await _transactions(state, shopify_shop.shop_id) == 0

    async def test_a_failed_event_is_listed_in_persian_and_replayable(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        event = await _deliver(client, state, shopify_shop, ORDER, "accepted")  # not rejected …
        async with state.db.write() as db:  # … but parked after failing every attempt
            parked = {"status": EventStatus.FAILED, "last_error": "database busy"}
            await db.execute(update(WebhookEvent).where(WebhookEvent.id == event.id).values(parked))
        await sign_in(client, await _admin(state, shopify_shop))
        page = await client.get("/admin/jobs?lang=fa")
        row = _row(page.text, event.id) or ""
        assert "ناموفق" in row
        assert "database busy" in row
        assert "پردازش دوباره" in row
        r = await client.post(f"/admin/events/{event.id}/replay", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303
        await state.worker.drain()
        assert (await _events(state, shopify_shop))[0].status == EventStatus.PROCESSED

    async def test_another_shops_event_is_not_replayed(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        event = await _deliver(client, state, shopify_shop, b"not json at all")
        await sign_in(client, await admin_shop(state, "bravo"))
        page = await client.get("/admin/jobs?lang=en")
        assert _row(page.text, event.id) is None
        r = await client.post(f"/admin/events/{event.id}/replay", data={"csrf": csrf_of(page.text)})
        assert r.headers["location"] == "/admin/jobs?missing=1"
        shown = await client.get(r.headers["location"])
        assert "There is no such webhook event in this shop." in shown.text
        [untouched] = await _events(state, shopify_shop)
        assert (untouched.status, untouched.attempts) == (EventStatus.REJECTED, event.attempts)


async def test_a_store_owner_replays_a_rejected_delivery_in_the_browser(
    live: tuple[Storefront, AppState], browser: Browser, client: httpx.AsyncClient,
    state: AppState, shopify_shop: ShopifyShop, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    server, served = live
    monkeypatch.setattr(intake, "parse_body", _broken_parser)
    event = await _deliver(client, state, shopify_shop, ORDER)
    monkeypatch.undo()
    admin = await _admin(state, shopify_shop)
    page = await browser.new_page(viewport={"width": 1200, "height": 900})
    await page.goto(f"{server.url}/admin?lang=en")
    await page.get_by_label("Store address").fill(admin.domain)
    await page.get_by_label("E-mail").fill(admin.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.get_by_role("link", name="Failed jobs and webhooks").click()
    row = page.get_by_role("row", name=re.compile("the parser failed: RuntimeError"))
    await expect(row).to_contain_text("Rejected")
    await row.get_by_role("button", name=f"Replay: orders/paid {event.id}").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Queued again: the event is processed in a moment."
    )
    # The live server's worker was woken by the replay; on PostgreSQL it may hold the event
    # (SKIP LOCKED) while this drain passes it by: wait for whichever applies it.
    for _ in range(100):
        await served.worker.drain()
        [processed] = await _events(state, shopify_shop)
        if processed.status != EventStatus.PENDING:
            break
        await asyncio.sleep(0.1)
    assert processed.status == EventStatus.PROCESSED
    await page.reload()
    await expect(page.get_by_role("row", name=re.compile("the parser failed"))).to_have_count(0)
