"""The reports page in headless Chromium, as a store owner reads it: signed in, the seeded
history's reports (chart beside table) over a period picked in the form, a CSV downloaded,
then the same page in Persian (right to left, Jalali months, Persian digits). Screenshots are
kept under test-artifacts/reports/."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, expect

from app.admin import auth
from app.state import AppState
from tests.admin.helpers import PASSWORD
from tests.browser import Storefront, screenshot_path
from tests.fakes.shopify import FakeShopify
from tests.reports.history import seed
from tests.rewards.conftest import StoreShop

OWNER = "owner@rewards.example"


@pytest.fixture
async def seeded(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> StoreShop:
    """The history, seeded before the live server's worker starts."""
    await seed(client, state, on_shopify)
    async with state.db.write() as session:
        await auth.add_user(session, on_shopify.shop_id, OWNER, PASSWORD)
    return on_shopify


async def test_a_store_owner_reads_the_reports_in_english_and_persian(
    seeded: StoreShop, live: tuple[Storefront, AppState], browser: Browser
) -> None:
    server, _ = live
    assert seeded.domain is not None
    page = await browser.new_page(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    await page.goto(f"{server.url}/admin/reports?lang=en")
    await page.get_by_label("Store address").fill(seeded.domain)
    await page.get_by_label("E-mail").fill(OWNER)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.get_by_role("link", name="Reports").click()
    await expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    await page.get_by_label("From", exact=True).fill("2026-11-01")
    await page.get_by_label("To", exact=True).fill("2027-06-30")
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(f"{server.url}/admin/reports?from=2026-11-01&to=2027-06-30")

    campaigns = page.locator('[data-report="campaigns"]')
    await expect(campaigns.get_by_role("heading", name="Campaign effect")).to_be_visible()
    await expect(campaigns.get_by_role("row", name="double")).to_contain_text("USD")
    await expect(campaigns.locator("svg rect")).to_have_count(2)  # the campaign, the others
    cohorts = page.locator('[data-report="cohorts"]')
    await expect(cohorts.get_by_role("row", name="2027-01")).to_contain_text("100.0%")
    await page.screenshot(path=screenshot_path("reports/en-reports"), full_page=True)

    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download CSV: Lifetime value by tier").click()
    assert (await download.value).suggested_filename == "vafa-tiers.csv"

    await page.get_by_role("link", name="فارسی").click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.get_by_role("heading", name="گزارش‌ها", exact=True)).to_be_visible()
    await page.get_by_label("از", exact=True).fill(
        "2026-11-01"
    )  # the language link keeps no period
    await page.get_by_label("تا", exact=True).fill("2027-06-30")
    await page.get_by_role("button", name="نمایش").click()
    cohorts = page.locator('[data-report="cohorts"]')
    await expect(cohorts.get_by_role("row", name="۱۴۰۵/۱۰/۱۱")).to_contain_text("۱۰۰٫۰٪")
    await expect(page.locator('[data-report="tiers"]')).to_contain_text("نقره‌ای")
    await page.screenshot(path=screenshot_path("reports/fa-reports"), full_page=True)
