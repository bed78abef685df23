"""The admin's referrals awaiting review: what a fraud check found, in words (English and
Persian), approved or rejected from the page with the result shown, decided once, and another
shop's referrals neither shown nor decided."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import httpx
from playwright.async_api import Browser, expect

from app.admin import auth
from app.orm import utcnow
from app.state import AppState
from tests.admin.helpers import PASSWORD, AdminShop, admin_shop, csrf_of, sign_in
from tests.browser import Storefront, screenshot_path
from tests.conftest import ShopifyShop
from tests.referrals.scenario import NEDA, REZA, SARA, Club, shopify

PHONE_LINE = "The friend's phone number is the referrer's."


async def _held_club(
    client: httpx.AsyncClient, state: AppState, shop: ShopifyShop, *friends: Any,
    live: bool = False,
) -> tuple[Club, AdminShop, list[dict[str, Any]]]:  # fmt: skip
    """Sara's code used by each friend on an order with Sara's phone: held for review. With a
    live server's worker running on the real clock, the program is in force before the orders
    come (the worker may process them first)."""
    club = Club(client, state, shop)
    await club.program()
    if live:
        await asyncio.sleep(max((club.t0 - utcnow()).total_seconds(), 0) + 0.05)
    await club.deliver("orders/paid", shopify(1, SARA, club.at(minutes=1)), club.at(minutes=2))
    code = await club.code(SARA)
    for n, friend in enumerate(friends, start=2):
        order = shopify(n, friend, club.at(hours=n), attribute=code, phone="00989120000001")
        await club.deliver("orders/paid", order, club.at(hours=n, minutes=1))
    held = await club.referrals("review")
    assert len(held) == len(friends)
    async with state.db.write() as db:
        await auth.add_user(db, shop.shop_id, "owner@club.example", PASSWORD)
    return club, AdminShop(shop.shop_id, shop.domain, "owner@club.example"), held


def _row(page: str, referral_id: int) -> str:
    found = re.search(rf'<tr data-referral="{referral_id}">(.*?)</tr>', page, re.S)
    assert found is not None, page
    return html.unescape(found.group(1))


class TestReviewPage:
    async def test_a_held_referral_is_shown_with_why_and_approved_from_the_page(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club, admin, [held] = await _held_club(client, state, shopify_shop, REZA)
        await sign_in(client, admin)
        page = await client.get("/admin/referrals?lang=en")
        assert page.status_code == 200
        row = _row(page.text, held["id"])
        assert PHONE_LINE in row
        assert str(SARA.customer_id) in row
        assert str(REZA.customer_id) in row
        approved = await client.post(f"/admin/referrals/{held['id']}/approve",
                                     data={"csrf": csrf_of(page.text)})  # fmt: skip
        assert approved.status_code == 303
        after = await client.get(approved.headers["location"])
        assert f'<tr data-referral="{held["id"]}">' not in after.text  # no longer waiting
        note = re.search(r'<p class="note" role="status"[^>]*>(.*?)</p>', after.text, re.S)
        assert note is not None
        assert f"Referral {held['id']} approved: both sides are paid on " in note.group(1)
        assert "when the order is past its hold period" in note.group(1)
        assert "No referral is waiting for review." in after.text
        decided = await club.only_referral()
        assert (decided["status"], decided["approved"]) == ("pending", True)
        assert await club.rewards(SARA) == []  # paid when the hold ends, not before

    async def test_rejected_with_a_reason_which_is_kept_and_shown(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club, admin, held = await _held_club(client, state, shopify_shop, REZA, NEDA)
        neda = next(r for r in held if r["friend_id"] == str(NEDA.customer_id))
        await sign_in(client, admin)
        page = await client.get("/admin/referrals?lang=en")
        csrf = csrf_of(page.text)
        empty = await client.post(f"/admin/referrals/{neda['id']}/reject",
                                  data={"csrf": csrf, "reason": "  "})  # fmt: skip
        assert empty.status_code == 422
        assert "Give a reason for rejecting" in empty.text
        assert 'aria-invalid="true"' in _row(empty.text, neda["id"])
        rejected = await client.post(f"/admin/referrals/{neda['id']}/reject",
                                     data={"csrf": csrf, "reason": "one household"})  # fmt: skip
        assert rejected.status_code == 303
        after = await client.get(rejected.headers["location"])
        assert f"Referral {neda['id']} rejected: one household" in after.text
        assert f'<tr data-referral="{neda["id"]}">' not in after.text
        _row(after.text, next(r["id"] for r in held if r is not neda))  # Reza's still waits
        [stored] = [r for r in await club.referrals() if r["id"] == neda["id"]]
        assert (stored["status"], stored["note"]) == ("rejected", "one household")

        # The same decision sent again (a second tab, a double click): said, nothing changes.
        again = await client.post(f"/admin/referrals/{neda['id']}/approve", data={"csrf": csrf})
        assert again.status_code == 409
        assert "This referral was decided already; nothing changed." in again.text
        [stored] = [r for r in await club.referrals() if r["id"] == neda["id"]]
        assert (stored["status"], stored["approved"]) == ("rejected", False)

    async def test_in_persian_the_reason_is_in_persian_with_persian_digits(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        _, admin, [held] = await _held_club(client, state, shopify_shop, REZA)
        await sign_in(client, admin)
        page = await client.get("/admin/referrals?lang=fa")
        assert 'dir="rtl"' in page.text
        row = _row(page.text, held["id"])
        assert "شماره تلفن دوست همان شماره معرف است." in row
        persian_id = str(held["id"]).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        assert f'<td class="num">{persian_id}</td>' in row

    async def test_another_shops_referral_is_neither_shown_nor_decided(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club, _, [held] = await _held_club(client, state, shopify_shop, REZA)
        other = await admin_shop(state, "bravo")
        await sign_in(client, other)
        page = await client.get("/admin/referrals?lang=en")
        assert "No referral is waiting for review." in page.text
        csrf = csrf_of(page.text)
        for action, data in (("approve", {}), ("reject", {"reason": "not yours"})):
            r = await client.post(f"/admin/referrals/{held['id']}/{action}",
                                  data={"csrf": csrf, **data})  # fmt: skip
            assert r.status_code == 404
            assert "There is no such referral in this shop." in r.text
        shown = await client.get(f"/admin/referrals?decided={held['id']}")
        assert PHONE_LINE not in shown.text
        assert 'role="status"' not in shown.text
        assert (await club.only_referral())["status"] == "review"


async def test_a_store_owner_approves_a_held_referral_in_the_browser(
    live: tuple[Storefront, AppState], browser: Browser, client: httpx.AsyncClient,
    state: AppState, shopify_shop: ShopifyShop,
) -> None:  # fmt: skip
    server, _ = live
    club, admin, [held] = await _held_club(client, state, shopify_shop, REZA, live=True)
    page = await browser.new_page(viewport={"width": 1200, "height": 900})
    await page.goto(f"{server.url}/admin?lang=en")
    await page.get_by_label("Store address").fill(admin.domain)
    await page.get_by_label("E-mail").fill(admin.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.get_by_role("link", name="Referrals", exact=True).click()
    await expect(page.get_by_role("heading", name="Referrals to review")).to_be_visible()
    row = page.get_by_role("row", name=re.compile(PHONE_LINE.replace(".", r"\.")))
    await expect(row).to_contain_text(str(REZA.customer_id))
    await page.screenshot(path=screenshot_path("admin/en-referrals"), full_page=True)
    await row.get_by_role("button", name=f"Approve: Referral {held['id']}").click()
    await expect(page.get_by_role("status")).to_contain_text(
        f"Referral {held['id']} approved: both sides are paid on"
    )
    await expect(page.get_by_text("No referral is waiting for review.")).to_be_visible()
    assert (await club.only_referral())["approved"] is True
