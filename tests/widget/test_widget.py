"""The widget as a shopper meets it, in headless Chromium: it shows the member's points, opens
and closes from the keyboard, redeems a reward and reveals the code the store now holds, speaks
Persian (right to left, Persian digits, Jalali dates, Toman) and English, switches between them,
shows a guest the club without anyone's balance, and keeps its text readable on the shop's
colour. Screenshots are kept under test-artifacts/widget/."""

from __future__ import annotations

import gzip
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Browser, Page, expect

from app.shops.service import update_display, update_settings
from app.state import AppState
from tests.browser import Storefront, contrast_ratios, screenshot_path
from tests.fakes.shopify import FakeShopify
from tests.rewards.conftest import StoreShop, add_reward, give_points
from tests.storefront.signing import plugin_token


async def _shopify_page(
    browser: Browser, store: Storefront, shop: StoreShop, locale: str, customer: str
) -> Page:
    assert shop.domain is not None
    store.shopify_domain, store.shopify_secret, store.customer_id = (
        shop.domain, shop.webhook_secret, customer,
    )  # fmt: skip
    page = await browser.new_page(viewport={"width": 900, "height": 800})
    await page.goto(f"{store.url}/shop/shopify?locale={locale}")
    return page


async def _with_tiers(state: AppState, shop_id: int) -> None:
    from app.orm import utcnow
    from app.program import versions
    from app.program.document import ProgramDocument

    document = ProgramDocument.model_validate({
        "rules": [{"key": "purchase", "type": "purchase", "points": 1},
                  {"key": "friends", "type": "referral", "advocate_points": 100}],
        "tiers": {"levels": [
            {"key": "bronze", "threshold": 0, "names": {"en": "Bronze", "fa": "برنزی"}},
            {"key": "silver", "threshold": 1000, "names": {"en": "Silver", "fa": "نقره‌ای"}},
        ]},
    })  # fmt: skip
    async with state.db.write() as session:
        await versions.publish(session, shop_id, document, utcnow())


async def _timezone(client: httpx.AsyncClient, shop_id: int, token: str) -> str:
    r = await client.get(f"/storefront/woocommerce/{shop_id}/member",
                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    zone: str = r.json()["timezone"]
    return zone


def _this_year(timezone: str) -> tuple[str, str]:
    """This year where the shop is, Gregorian and Jalali (in Persian digits): the year of a
    ledger line made now, as the widget shows it."""
    import jdatetime

    from app.orm import utcnow

    local = utcnow().astimezone(ZoneInfo(timezone))
    jalali = str(jdatetime.datetime.fromgregorian(datetime=local).year)
    return str(local.year), jalali.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


async def _unnamed_buttons(page: Page) -> list[str]:
    return await page.evaluate(
        """() => [...document.querySelector('vafa-club').shadowRoot.querySelectorAll('button')]
            .filter((b) => !(b.getAttribute('aria-label') || b.textContent).trim())
            .map((b) => b.outerHTML)"""
    )


async def test_a_member_redeems_with_the_keyboard_and_sees_the_code_the_store_holds(
    live: tuple[Storefront, AppState],
    browser: Browser,
    client: httpx.AsyncClient,
    fake_shopify: FakeShopify,
    on_shopify: StoreShop,
) -> None:
    store, state = live
    await _with_tiers(state, on_shopify.shop_id)
    await give_points(client, on_shopify, 250)
    await add_reward(client, on_shopify, name="5 off", points_cost=100, value=500)
    await add_reward(client, on_shopify, name="50 off", points_cost=1000, value=5000)
    page = await _shopify_page(browser, store, on_shopify, "en", on_shopify.customer_id)
    launcher = page.locator("vafa-club .launcher")
    await expect(launcher).to_have_text("Club · 250")

    await launcher.focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Customer club")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator(".balance")).to_have_text("250 points")
    await expect(dialog).to_contain_text("Tier: Bronze")
    bar = dialog.get_by_role("progressbar", name="to reach Silver")
    await expect(bar).to_have_attribute("aria-valuenow", "0")  # a gift is not points earned
    await expect(dialog).to_contain_text("1,000 points to reach Silver")
    link = await dialog.get_by_role("textbox", name="Your referral link").input_value()
    assert link.startswith("https://rewards.myshopify.com/?vafa_ref=REF-")
    await expect(page.get_by_role("button", name="Redeem: 50 off")).to_be_disabled()
    assert await _unnamed_buttons(page) == []
    assert (
        min(
            await contrast_ratios(
                page, ".launcher, header, .primary:not([disabled]), li, [role=tab]"
            )
        )
        >= 4.5
    )
    await page.screenshot(path=screenshot_path("widget/en-member-open"))

    await page.get_by_role("button", name="Redeem: 5 off").click()
    code_box = page.get_by_role("textbox", name="Your code")
    await expect(code_box).to_be_visible(timeout=10_000)
    code = await code_box.input_value()
    discount = fake_shopify.discount(code)
    assert discount is not None  # the code the shopper sees is the one on the store
    await expect(dialog.locator(".balance")).to_have_text("150 points")
    await expect(page.get_by_role("status")).to_contain_text(code)
    await page.screenshot(path=screenshot_path("widget/en-member-redeemed"))

    # Tabs by keyboard: arrow to "Ways to earn", then to "History".
    await page.get_by_role("tab", name="Rewards").focus()
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("tab", name="Ways to earn")).to_have_attribute(
        "aria-selected", "true"
    )
    await expect(page.get_by_role("tabpanel")).to_contain_text("1 points per")
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("tabpanel")).to_contain_text("+250")

    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    focused = await page.evaluate(
        "() => document.querySelector('vafa-club').shadowRoot.activeElement?.className"
    )
    assert focused == "launcher"  # focus goes back where it was

    # The code outlives the page: after a reload the widget reads it back from Vafa.
    await page.reload()
    await page.locator("vafa-club .launcher").click()
    await expect(page.get_by_role("textbox", name="Your code")).to_have_value(code)
    await page.screenshot(path=screenshot_path("widget/en-member-reloaded"))


async def test_a_code_still_pending_is_fetched_when_the_store_has_made_it(
    live: tuple[Storefront, AppState],
    browser: Browser,
    client: httpx.AsyncClient,
    fake_shopify: FakeShopify,
    on_shopify: StoreShop,
) -> None:
    store, state = live
    # Vafa answers at once (202, pending); the worker makes the code a moment later.
    state.settings = state.settings.model_copy(update={"redemption_wait_seconds": 0.0})
    fake_shopify.delay_next(1.0)
    await give_points(client, on_shopify, 250)
    await add_reward(client, on_shopify, name="5 off", points_cost=100, value=500)
    page = await _shopify_page(browser, store, on_shopify, "en", on_shopify.customer_id)
    await page.locator("vafa-club .launcher").click()
    await page.get_by_role("button", name="Redeem: 5 off").click()
    await expect(page.get_by_role("status")).to_contain_text("on its way")
    code_box = page.get_by_role("textbox", name="Your code")
    await expect(code_box).to_be_visible(timeout=15_000)
    code = await code_box.input_value()
    assert fake_shopify.discount(code) is not None
    assert "GET /apps/vafa/redemptions" in store.requests


async def test_in_persian_right_to_left_with_persian_digits_jalali_dates_and_toman(
    live: tuple[Storefront, AppState],
    browser: Browser,
    client: httpx.AsyncClient,
    state: AppState,
) -> None:
    from app.program.settings import ProgramSettings
    from app.shops import service as shops

    store, _ = live
    async with state.db.write() as session:
        new = await shops.add_woocommerce(
            session, state.vault, url="https://shop.example", consumer_key="ck_1",
            consumer_secret="cs_1", settings=ProgramSettings(currency="IRT"),
        )  # fmt: skip
    woo = StoreShop(new.shop_id, new.admin_api_key, "42", "", "")
    await give_points(client, woo, 1250)
    await add_reward(client, woo, name="۵۰ هزار تومان تخفیف", points_cost=200, value=50_000)
    assert new.storefront_secret is not None
    store.woo_api = f"{store.url}/storefront/woocommerce/{new.shop_id}"
    # The page has been open longer than its token lives: the widget asks the plugin again.
    store.woo_token = plugin_token(new.storefront_secret, "42", issued=int(time.time()) - 3600)
    store.woo_fresh_token = plugin_token(new.storefront_secret, "42")
    page = await browser.new_page(viewport={"width": 900, "height": 800}, locale="fa-IR")
    await page.goto(f"{store.url}/shop/woocommerce?locale=fa")
    launcher = page.locator("vafa-club .launcher")
    await expect(launcher).to_have_text("باشگاه · ۱٬۲۵۰")
    assert store.woo_token_requests == 1
    await launcher.click()
    dialog = page.get_by_role("dialog", name="باشگاه مشتریان")
    await expect(dialog).to_be_visible()
    direction = await page.evaluate(
        "() => getComputedStyle("
        "document.querySelector('vafa-club').shadowRoot.querySelector('[dir]')).direction"
    )
    assert direction == "rtl"
    await expect(dialog.locator(".balance")).to_have_text("۱٬۲۵۰ امتیاز")
    # The launcher sits on the left in a right-to-left page (inset-inline-end).
    box: Any = await launcher.bounding_box()
    assert box["x"] < 450
    await page.get_by_role("tab", name="راه‌های کسب امتیاز").click()
    await expect(page.get_by_role("tabpanel")).to_contain_text("۱ امتیاز به ازای هر ۱ تومان خرید")
    await page.get_by_role("tab", name="تاریخچه").click()
    gregorian, jalali = _this_year(await _timezone(client, new.shop_id, store.woo_fresh_token))
    await expect(page.get_by_role("tabpanel")).to_contain_text(jalali)  # the line's, Jalali
    await expect(page.get_by_role("tabpanel")).to_contain_text("+۱٬۲۵۰")
    assert await _unnamed_buttons(page) == []
    await page.screenshot(path=screenshot_path("widget/fa-member-history"))

    await page.get_by_role("button", name="نمایش به انگلیسی").click()
    dialog = page.get_by_role("dialog", name="Customer club")
    await expect(dialog.locator(".balance")).to_have_text("1,250 points")
    await page.get_by_role("tab", name="History").click()
    await expect(page.get_by_role("tabpanel")).to_contain_text(gregorian)
    await page.screenshot(path=screenshot_path("widget/fa-switched-to-en"))


async def test_a_guest_sees_the_club_and_a_sign_in_prompt_but_no_balance(
    live: tuple[Storefront, AppState],
    browser: Browser,
    client: httpx.AsyncClient,
    on_shopify: StoreShop,
) -> None:
    store, _ = live
    await give_points(client, on_shopify, 250)
    await add_reward(client, on_shopify, name="5 off")
    page = await _shopify_page(browser, store, on_shopify, "en", "")
    launcher = page.locator("vafa-club .launcher")
    await expect(launcher).to_have_text("Club")
    await launcher.click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Sign in to see your points")
    await expect(dialog.get_by_role("link", name="Sign in")).to_have_attribute(
        "href", "/account/login"
    )
    await expect(dialog).to_contain_text("5 off")
    await expect(dialog.get_by_role("button", name=re.compile("Redeem"))).to_have_count(0)
    assert "250" not in await dialog.inner_text()
    await page.screenshot(path=screenshot_path("widget/en-guest"))


async def test_a_light_shop_colour_gets_dark_text(
    live: tuple[Storefront, AppState],
    browser: Browser,
    on_shopify: StoreShop,
) -> None:
    store, _ = live
    store.colour = "#ffe14d"
    page = await _shopify_page(browser, store, on_shopify, "en", "")
    launcher = page.locator("vafa-club .launcher")
    await expect(launcher).to_be_visible()
    colour = await launcher.evaluate("(n) => getComputedStyle(n).color")
    assert colour == "rgb(0, 0, 0)"
    assert min(await contrast_ratios(page, ".launcher")) >= 4.5


async def test_the_colour_set_in_the_admin_paints_the_widget_when_the_embed_names_none(
    live: tuple[Storefront, AppState],
    browser: Browser,
    on_shopify: StoreShop,
) -> None:
    store, state = live
    async with state.db.write() as session:
        await update_display(
            session, on_shopify.shop_id, currency_display=None, widget_colour="#0b5d1e"
        )
    state.shops.forget()
    page = await _shopify_page(browser, store, on_shopify, "en", "")
    launcher = page.locator("vafa-club .launcher")
    await expect(launcher).to_have_css("background-color", "rgb(11, 93, 30)")
    await expect(launcher).to_have_css("color", "rgb(255, 255, 255)")
    # The embed's own colour still wins.
    store.colour = "#1a3a8a"
    page = await _shopify_page(browser, store, on_shopify, "en", "")
    await expect(page.locator("vafa-club .launcher")).to_have_css(
        "background-color", "rgb(26, 58, 138)"
    )


async def test_a_rial_shop_that_shows_toman_has_the_widget_show_toman(
    live: tuple[Storefront, AppState],
    browser: Browser,
    client: httpx.AsyncClient,
    on_shopify: StoreShop,
) -> None:
    store, state = live
    async with state.db.write() as session:
        await update_settings(session, on_shopify.shop_id, {"currency": "IRR"})
        await update_display(
            session, on_shopify.shop_id, currency_display="toman", widget_colour=None
        )
    state.shops.forget()
    await give_points(client, on_shopify, 250)
    page = await _shopify_page(browser, store, on_shopify, "en", on_shopify.customer_id)
    await page.locator("vafa-club .launcher").click()
    await page.get_by_role("tab", name="Ways to earn").click()
    # The default rule: points per whole Rial, which is a tenth of a Toman.
    await expect(page.get_by_role("tabpanel")).to_contain_text("per 0.1 Toman spent")


async def test_the_script_is_small_and_cached(client: httpx.AsyncClient) -> None:
    r = await client.get("/widget/v1/vafa.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert len(gzip.compress(r.content, 9)) < 15 * 1024
    assert "max-age=604800" in r.headers["cache-control"]
    again = await client.get("/widget/v1/vafa.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
