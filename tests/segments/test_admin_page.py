"""The admin's segments page in headless Chromium: every segment with its size, in English and
in Persian (Persian digits, right to left). Screenshots under test-artifacts/segments/."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.async_api import Browser, expect

from app.orm import utcnow
from app.segments import service
from app.segments.rules import SegmentRule
from app.state import AppState
from tests.admin.helpers import PASSWORD, admin_shop
from tests.browser import Storefront, screenshot_path

NO_ORDERS = SegmentRule.model_validate(
    {
        "names": {"en": "Not bought yet", "fa": "هنوز نخریده"},
        "conditions": [{"type": "orders", "at_most": 0}],
    }  # fmt: skip
)


async def test_the_segments_page_lists_every_segment_and_its_size(
    live: tuple[Storefront, AppState], browser: Browser, state: AppState
) -> None:
    server, _ = live
    shop = await admin_shop(state)  # one member, Sara, without orders
    async with state.db.write() as session:
        await service.put(session, shop.shop_id, "no-orders", NO_ORDERS, utcnow())
        await service.refresh(session, shop.shop_id, datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    await page.goto(f"{server.url}/admin?lang=en")
    await page.get_by_label("Store address").fill(shop.domain)
    await page.get_by_label("E-mail").fill(shop.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.get_by_role("link", name="Segments").click()
    await expect(page.get_by_role("heading", name="Segments")).to_be_visible()
    own = page.locator('[data-segment="no-orders"]')
    await expect(own).to_contain_text("Not bought yet")
    await expect(own).to_contain_text("The shop's own")
    await expect(own.locator("td.num")).to_have_text("1")
    await expect(page.locator('[data-segment="high_value"] td.num')).to_have_text("0")
    await expect(page.locator("tbody tr")).to_have_count(6)
    await page.screenshot(path=screenshot_path("segments/en-segments"), full_page=True)

    await page.get_by_role("link", name="فارسی").click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.get_by_role("heading", name="بخش‌ها")).to_be_visible()
    await expect(own).to_contain_text("هنوز نخریده")
    await expect(own.locator("td.num")).to_have_text("۱")
    await expect(page.get_by_text("آخرین به‌روزرسانی")).to_contain_text("۱۴۰۵")  # Jalali year
    await page.screenshot(path=screenshot_path("segments/fa-segments"), full_page=True)
