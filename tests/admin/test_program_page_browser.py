"""The program page in headless Chromium, as a store owner uses it, in English and in Persian:
sign in, open Program, change the purchase rule's points from the keyboard, press Enter to
simulate and see the draft's points issued become the figure the orders earn at the new rate,
then Tab to Save and press Enter and see version 2 in force. Every control has a name a screen
reader says. Screenshots are kept under test-artifacts/admin/."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from app.admin.i18n import WORDS, number
from app.state import AppState
from tests.admin.helpers import PASSWORD
from tests.admin.program_shop import points_at, program_shop
from tests.browser import Storefront, screenshot_path

_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@pytest.mark.parametrize("lang", ["en", "fa"])
async def test_an_owner_changes_the_purchase_points_simulates_and_saves_from_the_keyboard(
    live: tuple[Storefront, AppState], browser: Browser, state: AppState,
    client: httpx.AsyncClient, lang: str,
) -> None:  # fmt: skip
    server, _ = live
    words = WORDS[lang]
    admin, _ = await program_shop(client, state)
    page = await browser.new_page(viewport={"width": 1200, "height": 900})
    await page.goto(f"{server.url}/admin/sign-in?lang={lang}")
    await page.get_by_label(words["store"]).fill(admin.domain)
    await page.get_by_label(words["email"]).fill(admin.email)
    await page.get_by_label(words["password"]).fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.get_by_role("link", name=words["program"], exact=True).click()
    await expect(page.get_by_role("heading", name=words["program"], exact=True)).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "fa" else "ltr")

    # Every input and choice on the page has a label that names it.
    controls = await page.locator("main input:not([type=hidden]), main select").all()
    assert len(controls) > 20
    for control in controls:
        await expect(control).to_have_accessible_name(re.compile(r"\S"))

    rule = page.get_by_role("group", name=f"{words['rule_purchase']}: purchase")
    points = rule.get_by_label(words["pf_points"], exact=True)
    await expect(points).to_have_value("1")
    # A mistake comes back beside the field, read out as the field's description.
    await points.focus()
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.type("0")
    await page.keyboard.press("Enter")
    await expect(points).to_have_accessible_description(
        words["pe_greater_than_equal"].format(ge=number(1, lang)), timeout=30_000
    )
    await page.screenshot(path=screenshot_path(f"admin/program-{lang}-mistake"), full_page=True)
    await points.focus()
    await page.keyboard.press("ControlOrMeta+A")
    # In Persian the owner types Persian digits.
    await page.keyboard.type("3".translate(_PERSIAN) if lang == "fa" else "3")
    await page.keyboard.press("Enter")  # the form's first button is Simulate
    # Two replays of the shop's events in processes of their own: seconds on a busy machine.
    simulated = page.get_by_role("heading", name=words["sim_title"])
    await expect(simulated).to_be_visible(timeout=60_000)
    draft = page.locator('[data-sim="draft-points_issued"]')
    await expect(draft).to_have_text(number(points_at(3), lang))
    await expect(page.locator('[data-sim="live-points_issued"]')).to_have_text(
        number(points_at(1), lang)
    )
    await page.screenshot(path=screenshot_path(f"admin/program-{lang}-simulated"), full_page=True)

    # The draft is still in the form; Tab from the last field reaches Save, Enter saves it.
    await page.get_by_label(words["effective_at"]).focus()
    save = page.get_by_role("button", name=words["save_program"])
    for _ in range(12):  # a date-time input's parts (day, month, year, hour …) take a Tab each
        await page.keyboard.press("Tab")
        if await save.evaluate("b => b === document.activeElement"):
            break
    await expect(save).to_be_focused()
    await page.keyboard.press("Enter")
    saved = words["program_saved"].format(version=number(2, lang))
    await expect(page.get_by_role("status")).to_have_text(saved)
    await expect(page.locator('tr[data-version="2"]')).to_contain_text(words["in_force"])
    await expect(page.get_by_role("group", name=f"{words['rule_purchase']}: purchase")
                 .get_by_label(words["pf_points"], exact=True)).to_have_value("3")  # fmt: skip
    await page.screenshot(path=screenshot_path(f"admin/program-{lang}-saved"), full_page=True)
