"""The admin inside the Shopify admin: a verified session token (``id_token`` on the page load,
``Authorization: Bearer`` on a form) opens its own shop's admin and no other, without a
password or a cookie; a token for another app, expired, forged or for a shop that has not
installed Vafa is refused; embedded pages may be framed by the shop's admin only, the
standalone admin by nobody; and in Chromium, with App Bridge stubbed, every link and form
carries a fresh token."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Route, expect

from app.admin import auth
from app.admin.embedded import APP_BRIDGE
from app.members.balances import balance_in
from app.state import AppState
from tests.admin.helpers import (
    SHOPIFY_CLIENT_ID,
    AdminShop,
    admin_shop,
    csrf_of,
    embedded_query,
    session_token,
    sign_in,
)
from tests.browser import Storefront, screenshot_path


async def _shops(state: AppState) -> tuple[AdminShop, AdminShop]:
    alpha = await admin_shop(state, "alpha", member="111", points=5)
    bravo = await admin_shop(state, "bravo", member="424242", points=777_777,
                             email="bravo-only@example.com")  # fmt: skip
    return alpha, bravo


def _embedded(shop: AdminShop, token: str | None = None) -> dict[str, str]:
    return embedded_query(shop, token or session_token(shop.domain))


class TestTheShopIsTheTokens:
    async def test_a_token_for_shop_a_opens_as_admin_and_not_bs(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        alpha, bravo = await _shops(state)
        page = await client.get("/admin/members", params={**_embedded(alpha), "q": "111"})
        assert page.status_code == 200
        assert "/admin/members/111" in page.text
        assert auth.COOKIE not in page.headers.get("set-cookie", "")  # no session cookie made
        assert not client.cookies
        theirs = await client.get("/admin/members/424242", params=_embedded(alpha))
        assert theirs.status_code == 404
        assert "777,777" not in theirs.text
        found = await client.get("/admin/members", params={**_embedded(alpha), "q": "bravo-only"})
        assert "bravo-only@example.com" not in found.text
        # A page asked for B's admin with A's token: refused, not shown as A's either.
        crossed = await client.get("/admin", params={**_embedded(alpha), "shop": bravo.domain})
        assert crossed.status_code == 401
        assert "another shop" in crossed.json()["error"]["message"]
        # And B's own token opens B's.
        own = await client.get("/admin/members/424242", params={**_embedded(bravo), "lang": "en"})
        assert (own.status_code, "777,777" in own.text) == (200, True)

    async def test_a_form_sent_with_a_bearer_token_is_the_shops(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        alpha, _ = await _shops(state)
        page = await client.get("/admin/members/111", params=_embedded(alpha))
        key = re.search(r'name="key" value="([^"]+)"', page.text)
        assert key is not None
        form = {"csrf": csrf_of(page.text), "key": key.group(1), "points": "20",
                "reason": "embedded gift"}  # fmt: skip
        bearer = {"Authorization": f"Bearer {session_token(alpha.domain)}"}
        done = await client.post("/admin/members/111/adjust", data=form, headers=bearer)
        assert done.status_code == 303, done.text
        async with state.db.read() as db:
            assert (await balance_in(db, alpha.shop_id, "111")).available == 25
        # Without the token (and without a cookie) the same form is nobody's.
        bare = await client.post("/admin/members/111/adjust", data=form)
        assert (bare.status_code, bare.headers["location"]) == (303, "/admin/sign-in")


class TestRefusedTokens:
    @pytest.mark.parametrize(
        ("kind", "message"),
        [
            ("another app", "the session token is for another app"),
            ("expired", "the session token has expired"),
            ("forged", "the session token is not valid"),
            ("not installed", "has not installed Vafa"),
        ],
    )
    async def test_is_401_and_shows_nothing(
        self, client: httpx.AsyncClient, state: AppState, kind: str, message: str
    ) -> None:
        alpha, _ = await _shops(state)
        shop = alpha if kind != "not installed" else AdminShop(0, "stranger.myshopify.com", "")
        changes: dict[str, Any] = {
            "another app": {"aud": "some-other-app"},
            "expired": {"lifetime": -60},
            "forged": {"secret": "another-secret-of-32-bytes-long!"},
            "not installed": {},
        }[kind]
        token = session_token(shop.domain, **changes)
        for r in (
            await client.get("/admin/members/111", params=_embedded(shop, token)),
            await client.post("/admin/settings", data={"lang": "en"},
                              headers={"Authorization": f"Bearer {token}"}),
        ):  # fmt: skip
            assert r.status_code == 401, r.text
            assert r.json()["error"]["code"] == "unauthorized"
            assert message in r.json()["error"]["message"]
            assert "Sara" not in r.text


class TestFraming:
    async def test_embedded_pages_may_be_framed_by_the_shops_admin_only(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        alpha, _ = await _shops(state)
        page = await client.get("/admin", params=_embedded(alpha))
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == (
            "frame-ancestors https://alpha.myshopify.com https://admin.shopify.com"
        )
        assert "x-frame-options" not in page.headers
        assert page.headers["referrer-policy"] == "same-origin"  # its URL holds the token
        assert page.headers["cache-control"] == "no-store"  # nor for a cache to keep
        assert f'<meta name="shopify-api-key" content="{SHOPIFY_CLIENT_ID}">' in page.text
        assert f'<script src="{APP_BRIDGE}"></script>' in page.text
        assert "/admin/sign-out" not in page.text  # nothing to sign out of

    async def test_the_standalone_admin_is_framed_by_nobody(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        alpha, _ = await _shops(state)
        pages = [await client.get("/admin/sign-in"), await client.get("/admin")]  # + a redirect
        await sign_in(client, alpha)
        pages.append(await client.get("/admin/members"))
        refused = await client.get("/admin", params=_embedded(alpha, "eyJ.bad.token"))
        pages.append(refused)  # a refused embedded load is not framed either
        for r in pages:
            assert r.headers["content-security-policy"] == "frame-ancestors 'none'", r.url
            assert r.headers["x-frame-options"] == "DENY"
        assert "shopify-api-key" not in pages[2].text
        assert "app-bridge.js" not in pages[2].text


async def test_in_chromium_every_link_and_form_carries_a_fresh_token(
    live: tuple[Storefront, AppState], browser: Browser, state: AppState
) -> None:
    """Shopify's app-bridge.js cannot be fetched here (no network): the test serves a stand-in
    at its address whose ``shopify.idToken()`` asks the test for a new token each time."""
    server, _ = live
    alpha, _ = await _shops(state)
    minted: list[str] = []

    def mint() -> str:
        minted.append(session_token(alpha.domain))
        return minted[-1]

    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    await page.expose_function("vafaTestMint", mint)

    async def app_bridge(route: Route) -> None:
        stand_in = "window.shopify = {idToken: () => window.vafaTestMint()};"
        await route.fulfill(content_type="text/javascript", body=stand_in)

    await page.route(APP_BRIDGE, app_bridge)
    first = mint()
    query = "&".join(f"{k}={v}" for k, v in {**_embedded(alpha, first), "lang": "en"}.items())
    await page.goto(f"{server.url}/admin?{query}")
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    await page.get_by_role("link", name="Members").click()  # a link: a fresh token in the query
    await expect(page.get_by_role("heading", name="Members")).to_be_visible()
    carried = parse_qs(urlsplit(page.url).query)
    assert carried["id_token"] == [minted[-1]]
    assert minted[-1] != first
    assert (carried["shop"], carried["embedded"]) == ([alpha.domain], ["1"])

    await page.get_by_label("Search").fill("111")  # a GET form
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("link", name="111").click()
    await page.get_by_role("spinbutton", name="Points").fill("7")
    await page.get_by_label("Reason").fill("thanks from inside Shopify")
    await page.get_by_role("button", name="Save").click()  # a POST form: the bearer header
    await expect(page.get_by_role("status")).to_have_text("Adjusted.")
    await expect(page.locator('[data-stat="available"]')).to_have_text("12")
    await page.screenshot(path=screenshot_path("admin/en-embedded-member"), full_page=True)
    assert len(minted) >= 5
    assert len(set(minted)) == len(minted)
    # No session cookie was needed, none was made (the language choice is only a preference).
    assert auth.COOKIE not in [c["name"] for c in await page.context.cookies()]

    # A report's CSV (a download link): the token in its address opens it, inside Shopify too.
    await page.get_by_role("link", name="Reports").click()
    async with page.expect_download() as download:
        await page.get_by_role("link", name=re.compile("CSV")).first.click()
    saved = await (await download.value).path()
    assert saved is not None
    head = saved.read_text(encoding="utf-8-sig").splitlines()[0]
    assert head.startswith("day,"), head  # the CSV's header, not a sign-in page
