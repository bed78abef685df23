"""The admin's text is readable (WCAG contrast at least 4.5:1 against what is behind it) on its
main pages in English and Persian, and the settings form is reachable from the keyboard alone.
Screenshots are kept under test-artifacts/admin/."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from app.shops import service as shops
from app.state import AppState
from tests.admin.helpers import PASSWORD, admin_shop
from tests.browser import Storefront, contrast_ratios, screenshot_path

PAGES = ("/admin", "/admin/members", "/admin/settings", "/admin/program", "/admin/reports")
TEXT = "h1, h2, h3, p, a, button, label, th, td, li, span, legend, summary, dt, dd, small, input"


async def _signed_in(browser: Browser, server: Storefront, state: AppState) -> Page:
    shop = await admin_shop(state)
    async with state.db.write() as session:  # a Rial shop: its settings offer Toman or Rial
        await shops.update_settings(session, shop.shop_id, {"currency": "IRR"})
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    await page.goto(f"{server.url}/admin/sign-in?lang=en")
    await page.get_by_label("Store address").fill(shop.domain)
    await page.get_by_label("E-mail").fill(shop.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    return page


@pytest.mark.parametrize("lang", ["en", "fa"])
async def test_the_main_admin_pages_text_is_readable(
    live: tuple[Storefront, AppState], browser: Browser, lang: str
) -> None:
    server, state = live
    page = await _signed_in(browser, server, state)
    for path in PAGES:
        await page.goto(f"{server.url}{path}?lang={lang}")
        await expect(page.locator("html")).to_have_attribute("lang", lang)
        ratios = await contrast_ratios(page, TEXT, within=None)
        assert len(ratios) > 5, path  # the page's text was found and measured
        assert min(ratios) >= 4.5, (path, lang, sorted(ratios)[:3])
        name = path.strip("/").replace("/", "-")
        await page.screenshot(path=screenshot_path(f"admin/{lang}-contrast-{name}"))


async def test_the_settings_form_is_reachable_from_the_keyboard(
    live: tuple[Storefront, AppState], browser: Browser
) -> None:
    server, state = live
    page = await _signed_in(browser, server, state)
    await page.goto(f"{server.url}/admin/settings?lang=en")
    reached = []
    for _ in range(40):
        await page.keyboard.press("Tab")
        reached.append(
            await page.evaluate(
                "() => document.activeElement.id || document.activeElement.textContent.trim()"
            )
        )
        if reached[-1] == "Save":
            break
    assert [f for f in reached if f in ("lang", "currency_display", "widget_colour", "Save")] == [
        "lang", "currency_display", "widget_colour", "Save",
    ]  # fmt: skip
    # Fill and save by keyboard alone.
    await page.get_by_label("Widget colour").focus()
    await page.keyboard.type("#0b5d1e")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Settings saved.")
    await expect(page.get_by_label("Widget colour")).to_have_value("#0b5d1e")
