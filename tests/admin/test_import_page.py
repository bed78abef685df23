"""Importing members from the admin: a CSV file checked first (rows accepted and refused, with
their line and why, nothing written), imported only when confirmed, once however often it is
confirmed; a file too large, not UTF-8 or of no known format refused with a clear page."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
from playwright.async_api import Browser, expect

from app.admin.imports_pages import MAX_BODY_BYTES, MAX_FILE_BYTES
from app.errors import MemberNotFound
from app.members.balances import balance_in
from app.state import AppState
from tests.admin.helpers import PASSWORD, AdminShop, admin_shop, csrf_of, sign_in
from tests.browser import Storefront, screenshot_path

VAFA_FILE = (
    "customer_id,email,first_name,last_name,points,birthday\n"
    "1001,Sara@Example.com,Sara,Ahmadi,1200,1990-03-21\n"
    "1002,reza@example.com,Reza,,0,\n"
    "1003,,,,35,\n"
    '1004,bad@example.com,,,"1,200",\n'  # a comma in the number: refused, not 1
    ",,,,10,\n"  # nobody
    "1001,Sara@Example.com,Sara,Ahmadi,1200,1990-03-21\n"  # twice in one file
)


def _stat(page: str, name: str) -> str:
    found = re.search(rf'data-stat="{name}">([^<]*)<', page)
    assert found is not None, page
    return found.group(1)


def _refused(page: str) -> list[tuple[str, str]]:
    rows = re.findall(r'<tr data-line="(\d+)"><td class="num">[^<]*</td><td dir="ltr">([^<]*)</td>',
                      page)  # fmt: skip
    return [(line, html.unescape(why)) for line, why in rows]


async def _check(client: httpx.AsyncClient, content: bytes, csrf: str) -> httpx.Response:
    return await client.post("/admin/import", data={"csrf": csrf, "step": "check"},
                             files={"file": ("members.csv", content, "text/csv")})  # fmt: skip


async def _confirm(client: httpx.AsyncClient, checked: httpx.Response) -> httpx.Response:
    content = re.search(r'name="content" value="([^"]+)"', checked.text)
    assert content is not None, checked.text
    return await client.post("/admin/import", data={"csrf": csrf_of(checked.text),
                             "step": "import", "content": content.group(1)}, files={})  # fmt: skip


async def _available(state: AppState, shop: AdminShop, customer_id: str) -> int | None:
    """The member's points, or None: no such member."""
    async with state.db.read() as db:
        try:
            return (await balance_in(db, shop.shop_id, customer_id)).available
        except MemberNotFound:
            return None


async def _signed_in(client: httpx.AsyncClient, state: AppState) -> tuple[AdminShop, str]:
    shop = await admin_shop(state)
    await sign_in(client, shop)
    page = await client.get("/admin/import?lang=en")
    assert page.status_code == 200
    return shop, csrf_of(page.text)


class TestCheckThenImport:
    async def test_the_check_shows_what_would_happen_and_writes_nothing(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        shop, csrf = await _signed_in(client, state)
        checked = await _check(client, VAFA_FILE.encode(), csrf)
        assert checked.status_code == 200
        assert "Checked: nothing is imported yet" in checked.text
        assert (_stat(checked.text, "rows"), _stat(checked.text, "imported"),
                _stat(checked.text, "refused"), _stat(checked.text, "points")) == (
            "6", "3", "3", "1,235")  # fmt: skip
        refused = _refused(checked.text)
        assert [line for line, _ in refused] == ["5", "6", "7"]
        assert refused[0][1].startswith("points '1,200' is not a whole")
        assert refused[2][1] == "this member appears earlier in the file"
        assert "Import 3 members" in checked.text
        assert await _available(state, shop, "1001") is None  # not even made a member

    async def test_confirmed_it_imports_once_however_often_it_is_sent(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        shop, csrf = await _signed_in(client, state)
        checked = await _check(client, VAFA_FILE.encode(), csrf)
        done = await _confirm(client, checked)
        assert done.status_code == 200
        assert '<p class="note" role="status">Imported.</p>' in done.text
        assert (_stat(done.text, "imported"), _stat(done.text, "points")) == ("3", "1,235")
        assert 'name="content"' not in done.text  # no second button to press
        assert await _available(state, shop, "1001") == 1200
        assert await _available(state, shop, "1003") == 35

        again = await _confirm(client, checked)  # the same confirmation, sent again
        assert (_stat(again.text, "imported"), _stat(again.text, "unchanged")) == ("0", "3")
        assert await _available(state, shop, "1001") == 1200
        rechecked = await _check(client, VAFA_FILE.encode(), csrf)
        assert "There is nothing new to import in this file." in rechecked.text

    async def test_a_smile_file_finds_members_by_email_in_persian(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        shop, csrf = await _signed_in(client, state)  # Sara (sara@example.com) is a member
        smile = b"email,points\nSARA@example.com,500\nghost@example.com,9\n"
        checked = await client.post("/admin/import?lang=fa", data={"csrf": csrf, "step": "check"},
                                    files={"file": ("smile.csv", smile, "text/csv")})  # fmt: skip
        assert "Smile.io" in checked.text
        assert _stat(checked.text, "imported") == "۱"
        assert "ردیف‌های ردشده و دلیل آن‌ها" in checked.text
        [(line, why)] = _refused(checked.text)
        assert (line, why) == ("3", "no member of this shop has that e-mail (or several do)")
        await _confirm(client, checked)
        assert await _available(state, shop, "207119551") == 250 + 500


class TestRefusedFiles:
    async def test_a_file_over_the_limit_is_refused_with_a_clear_page(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        shop, csrf = await _signed_in(client, state)
        just_over = b"customer_id,points\n" + b"1,1\n" * (MAX_FILE_BYTES // 4)
        assert MAX_FILE_BYTES < len(just_over) < MAX_BODY_BYTES
        r = await _check(client, just_over, csrf)
        assert r.status_code == 413
        assert "The file is too large for the admin (at most 2 MB)" in r.text
        assert "vafa import members" in r.text
        huge = b"customer_id,points\n" + b"1,1\n" * (MAX_BODY_BYTES // 4)
        r = await _check(client, huge, csrf)  # refused by its length, before it is read
        assert r.status_code == 413
        assert "The file is too large for the admin" in r.text
        assert await _available(state, shop, "1") is None

    async def test_no_file_another_encoding_or_an_unknown_header_is_said_so(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        _, csrf = await _signed_in(client, state)
        empty = await _check(client, b"", csrf)
        assert (empty.status_code, "Choose a CSV file to check." in empty.text) == (422, True)
        latin = await _check(client, "customer_id,points\nJosé,5\n".encode("latin-1"), csrf)
        assert latin.status_code == 422
        assert "The file is not UTF-8 text." in html.unescape(latin.text)
        odd = await _check(client, b"name,score\nSara,5\n", csrf)
        assert odd.status_code == 422
        assert "The file&#39;s header row names no format Vafa knows." in odd.text
        assert "found: name, score" in odd.text
        upload = {"file": ("x.csv", b"customer_id,points\n1,5\n")}
        forged = await client.post("/admin/import", data={"step": "check"}, files=upload)
        assert forged.status_code == 403
        assert forged.json()["error"]["code"] == "csrf_refused"


async def test_a_store_owner_checks_then_imports_a_file_in_the_browser(
    live: tuple[Storefront, AppState], browser: Browser, state: AppState, tmp_path: Path
) -> None:
    server, _ = live
    shop = await admin_shop(state)
    path = tmp_path / "members.csv"
    path.write_text(VAFA_FILE, encoding="utf-8")
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    await page.goto(f"{server.url}/admin?lang=en")
    await page.get_by_label("Store address").fill(shop.domain)
    await page.get_by_label("E-mail").fill(shop.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.get_by_role("link", name="Import").click()
    await page.get_by_label("CSV file").set_input_files(str(path))
    await page.get_by_role("button", name="Check the file").click()
    await expect(
        page.get_by_role("heading", name="Checked: nothing is imported yet")
    ).to_be_visible()
    await expect(
        page.get_by_role("row", name=re.compile("this member appears earlier"))
    ).to_be_visible()
    await page.screenshot(path=screenshot_path("admin/en-import-checked"), full_page=True)
    await page.get_by_role("button", name="Import 3 members").click()
    await expect(page.get_by_role("status")).to_have_text("Imported.")
    await expect(page.locator('[data-stat="imported"]')).to_have_text("3")
    assert await _available(state, shop, "1001") == 1200
