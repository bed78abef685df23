"""The admin in headless Chromium, as a store owner uses it: sign in, find a member, adjust
their points with a reason and see the ledger line, in English and in Persian (right to left,
Persian digits, Jalali dates), all from the keyboard-reachable, labelled form controls.
Screenshots are kept under test-artifacts/admin/."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from app.state import AppState
from tests.admin.helpers import PASSWORD, admin_shop
from tests.browser import Storefront, screenshot_path


async def test_a_store_owner_signs_in_finds_a_member_and_adjusts_their_points(
    live: tuple[Storefront, AppState], browser: Browser, state: AppState
) -> None:
    server, _ = live
    shop = await admin_shop(state)
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    await page.goto(f"{server.url}/admin?lang=en")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Store address").fill(shop.domain)
    await page.get_by_label("E-mail").fill(shop.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    await page.screenshot(path=screenshot_path("admin/en-overview"))

    await page.get_by_role("link", name="Members").click()
    await page.get_by_label("Search").fill("sara@example.com")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("link", name="207119551").click()
    await expect(page.get_by_role("heading", name="Sara Ahmadi")).to_be_visible()
    await page.get_by_role("spinbutton", name="Points").fill("50")
    await page.get_by_label("Reason").fill("sorry for the late parcel")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Adjusted.")
    await expect(page.locator('[data-stat="available"]')).to_have_text("300")
    row = page.get_by_role("row", name="sorry for the late parcel")
    await expect(row).to_contain_text("+50")
    await page.screenshot(path=screenshot_path("admin/en-member-adjusted"), full_page=True)

    await page.get_by_role("link", name="فارسی").click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator('[data-stat="available"]')).to_have_text("۳۰۰")
    await expect(page.get_by_role("heading", name="ردیف‌های دفتر")).to_be_visible()
    await expect(page.get_by_role("row", name="sorry for the late parcel")).to_contain_text("۱۴۰")
    await page.screenshot(path=screenshot_path("admin/fa-member"), full_page=True)

    # Keyboard: the first Tab reaches the skip link, which lands on the content.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="رفتن به محتوا")).to_be_focused()
