"""In headless Chromium: the widget does not render for a shopper in the holdout (and does for
a member of the same shop), and the store owner sets the holdout and reads the lift on the
admin's lift page, in English and Persian. Screenshots under test-artifacts/holdout/."""

from __future__ import annotations

from decimal import Decimal

import httpx
from playwright.async_api import Browser, expect

from app.holdout import service
from app.holdout.schemas import HoldoutIn
from app.orm import utcnow
from app.state import AppState
from tests.admin.helpers import PASSWORD, admin_shop
from tests.browser import Storefront, screenshot_path
from tests.holdout.conftest import SALT, customers, hold_out, seed_history
from tests.rewards.conftest import StoreShop


async def test_the_widget_does_not_render_for_a_holdout_shopper(
    live: tuple[Storefront, AppState], browser: Browser, client: httpx.AsyncClient,
    on_shopify: StoreShop,
) -> None:  # fmt: skip
    store, _ = live
    await hold_out(client, on_shopify.auth, "50")
    (held,) = customers(5000, held_out=True)
    (member,) = customers(5000, held_out=False)
    assert on_shopify.domain is not None
    store.shopify_domain, store.shopify_secret = on_shopify.domain, on_shopify.webhook_secret

    store.customer_id = member
    page = await browser.new_page(viewport={"width": 900, "height": 700})
    await page.goto(f"{store.url}/shop/shopify?locale=en")
    await expect(page.locator("vafa-club .launcher")).to_have_text("Club · 0")

    store.customer_id, store.requests[:] = held, []
    page = await browser.new_page(viewport={"width": 900, "height": 700})
    await page.goto(f"{store.url}/shop/shopify?locale=en")
    club = page.locator("vafa-club")
    await expect(club).to_have_attribute("hidden", "")  # set once the member read said so
    assert await page.locator("vafa-club .launcher").count() == 0
    assert (
        await page.evaluate("document.querySelector('vafa-club').shadowRoot.childElementCount") == 0
    )
    assert await club.bounding_box() is None  # nothing on the page
    assert store.requests == ["GET /apps/vafa/member"]  # no history, no rewards asked for
    await page.screenshot(path=screenshot_path("holdout/widget-hidden"))


async def test_the_owner_sets_the_holdout_and_reads_the_lift(
    live: tuple[Storefront, AppState], browser: Browser, state: AppState
) -> None:
    server, _ = live
    shop = await admin_shop(state, "lift")
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    await page.goto(f"{server.url}/admin?lang=en")
    await page.get_by_label("Store address").fill(shop.domain)
    await page.get_by_label("E-mail").fill(shop.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.get_by_role("link", name="Lift").click()
    await expect(page.get_by_role("heading", name="Lift", exact=True)).to_be_visible()

    share = page.get_by_label("Share of new customers held out")
    await share.fill("60")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#e-share_percent")).to_contain_text("less than or equal to 50")
    await share.fill("10")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("[data-holdout-share]")).to_contain_text("Held out now: 10.00%")

    table = page.locator("table[data-lift]")
    await expect(table.get_by_role("row", name="Repeat purchase rate")).to_contain_text(
        "Sample too small to say"
    )
    await expect(table.get_by_role("row", name="Customers who bought")).to_contain_text("0")
    await expect(page.locator('svg[data-chart="lift"]')).to_have_count(1)
    await page.screenshot(path=screenshot_path("holdout/en-lift"), full_page=True)

    await page.get_by_role("link", name="فارسی").click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator("[data-holdout-share]")).to_contain_text("۱۰٫۰۰٪")
    await expect(table.get_by_role("row", name="نرخ خرید دوباره")).to_contain_text(
        "نمونه برای داوری کوچک است"
    )
    await page.screenshot(path=screenshot_path("holdout/fa-lift"), full_page=True)

    # A month with enough customers: the intervals are drawn and the verdict is said.
    async with state.db.write() as session:
        await service.configure(
            session, shop.shop_id, HoldoutIn(share_percent=Decimal(50), salt=SALT), utcnow()
        )
    await seed_history(
        state,
        shop.shop_id,
        customers(5000, held_out=True, count=60),
        customers(5000, held_out=False, count=80),
    )
    await page.goto(f"{server.url}/admin/lift?lang=en")
    await page.get_by_label("From", exact=True).fill("2026-10-01")
    await page.get_by_label("To", exact=True).fill("2026-10-31")
    await page.get_by_role("button", name="Show").click()
    await expect(table.get_by_role("row", name="Customers who bought")).to_contain_text("80")
    await expect(table.get_by_role("row", name="Repeat purchase rate")).to_contain_text(
        "Members are higher"
    )
    await expect(page.locator('svg[data-chart="lift"] circle')).to_have_count(2)
    await page.screenshot(path=screenshot_path("holdout/en-lift-october"), full_page=True)
    await page.goto(f"{server.url}/admin/lift?lang=fa&from=2026-10-01&to=2026-10-31")
    await expect(table.get_by_role("row", name="نرخ خرید دوباره")).to_contain_text("اعضا بالاترند")
    await page.screenshot(path=screenshot_path("holdout/fa-lift-october"), full_page=True)
