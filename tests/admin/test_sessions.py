"""Admin sessions can be taken back: a cookie copied from a browser stops working once its
owner signs out, once their password is changed (``vafa admin user password``) and once an
operator signs the shop out (``vafa admin sign-out-all``) — that shop's sessions only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from typer.testing import CliRunner, Result

from app.admin import auth
from app.cli import cli
from app.config import Settings, get_settings
from app.main import create_app
from app.orm import utcnow
from app.state import AppState
from tests.admin.helpers import PASSWORD, AdminShop, admin_shop, csrf_of, sign_in
from tests.conftest import SECRET_KEY

NEW_PASSWORD = "a much better passphrase"


@pytest.fixture
async def thief(settings: Settings, state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser, which will hold a copy of the owner's cookie."""
    transport = httpx.ASGITransport(app=create_app(settings, state))
    async with httpx.AsyncClient(transport=transport, base_url="http://vafa.test") as c:
        yield c


@pytest.fixture
def operator(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`vafa …` against the test's database, as an operator runs it."""
    monkeypatch.setenv("VAFA_DATABASE_URL", database_url)
    monkeypatch.setenv("VAFA_SECRET_KEY", SECRET_KEY)
    get_settings.cache_clear()

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        # On a thread of its own: the command runs its own event loop, and the test is in one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(CliRunner().invoke, cli, list(args), env=env).result()

    return run


async def _signed_in_cookie(client: httpx.AsyncClient, shop: AdminShop) -> str:
    assert (await sign_in(client, shop)).status_code == 303
    cookie = client.cookies.get(auth.COOKIE)
    assert cookie
    return cookie


async def _opens(browser: httpx.AsyncClient, cookie: str) -> bool:
    r = await browser.get("/admin/members", headers={"cookie": f"{auth.COOKIE}={cookie}"})
    if r.status_code == 303:
        assert r.headers["location"] == "/admin/sign-in"
        return False
    assert r.status_code == 200, r.text
    return True


async def _sign_out(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin/settings")
    r = await client.post("/admin/sign-out", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303


class TestSignOut:
    async def test_a_cookie_copied_before_sign_out_is_refused_after_it(
        self, client: httpx.AsyncClient, thief: httpx.AsyncClient, state: AppState
    ) -> None:
        shop = await admin_shop(state)
        copied = await _signed_in_cookie(client, shop)
        assert await _opens(thief, copied)
        await _sign_out(client)
        assert not await _opens(thief, copied)
        # The owner signs in again: a new session, the old cookie still dead.
        fresh = await _signed_in_cookie(client, shop)
        assert fresh != copied
        assert await _opens(thief, fresh)
        assert not await _opens(thief, copied)

    async def test_signing_out_one_browser_leaves_the_others_signed_in(
        self, client: httpx.AsyncClient, thief: httpx.AsyncClient, state: AppState
    ) -> None:
        shop = await admin_shop(state)
        laptop = await _signed_in_cookie(client, shop)
        phone = await _signed_in_cookie(thief, shop)
        await _sign_out(client)
        assert not await _opens(thief, laptop)
        assert await _opens(thief, phone)

    async def test_a_link_session_is_revoked_by_its_sign_out_too(
        self, client: httpx.AsyncClient, thief: httpx.AsyncClient, state: AppState
    ) -> None:
        shop = await admin_shop(state)
        async with state.db.write() as db:
            token = await auth.make_link(db, shop.shop_id, utcnow())
        page = await client.get(f"/admin/link/{shop.shop_id}/{token}")
        r = await client.post(f"/admin/link/{shop.shop_id}",
                              data={"csrf": csrf_of(page.text), "token": token})  # fmt: skip
        assert r.status_code == 303
        copied = client.cookies.get(auth.COOKIE)
        assert copied
        assert await _opens(thief, copied)
        await _sign_out(client)
        assert not await _opens(thief, copied)


class TestOperatorRevokes:
    async def test_a_password_change_signs_the_user_out_everywhere(
        self, client: httpx.AsyncClient, thief: httpx.AsyncClient, state: AppState,
        operator: Callable[..., Result],
    ) -> None:  # fmt: skip
        shop = await admin_shop(state)
        copied = await _signed_in_cookie(client, shop)
        result = operator(
            "admin", "user", "password", "--shop", str(shop.shop_id), "--email", shop.email,
            env={"VAFA_ADMIN_PASSWORD": NEW_PASSWORD},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"shop_id": shop.shop_id, "sessions_revoked": 1}
        assert not await _opens(thief, copied)
        assert not await _opens(client, copied)
        assert (await sign_in(client, shop)).status_code == 401  # the old password is gone
        assert (await sign_in(client, shop, NEW_PASSWORD)).status_code == 303

    async def test_a_too_short_password_changes_nothing(
        self, client: httpx.AsyncClient, state: AppState, operator: Callable[..., Result]
    ) -> None:
        shop = await admin_shop(state)
        copied = await _signed_in_cookie(client, shop)
        result = operator(
            "admin", "user", "password", "--shop", str(shop.shop_id), "--email", shop.email,
            env={"VAFA_ADMIN_PASSWORD": "short"},
        )  # fmt: skip
        assert result.exit_code != 0
        assert "at least 10 characters" in result.output
        assert await _opens(client, copied)
        assert (await sign_in(client, shop, PASSWORD)).status_code == 303

    async def test_sign_out_all_ends_every_session_of_that_shop_only(
        self, client: httpx.AsyncClient, thief: httpx.AsyncClient, state: AppState,
        operator: Callable[..., Result],
    ) -> None:  # fmt: skip
        alpha = await admin_shop(state, "alpha", member="1")
        bravo = await admin_shop(state, "bravo", member="2")
        alpha_one = await _signed_in_cookie(client, alpha)
        alpha_two = await _signed_in_cookie(thief, alpha)
        bravo_one = await _signed_in_cookie(client, bravo)
        result = operator("admin", "sign-out-all", "--shop", str(alpha.shop_id))
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"shop_id": alpha.shop_id, "sessions_revoked": 2}
        assert not await _opens(thief, alpha_one)
        assert not await _opens(thief, alpha_two)
        assert await _opens(thief, bravo_one)


async def test_a_cookie_naming_no_recorded_session_is_refused(
    client: httpx.AsyncClient, state: AppState, settings: Settings
) -> None:
    """Validly signed (with the app's key) but never recorded: made up, or from before
    sessions were recorded."""
    shop = await admin_shop(state)
    made_up = auth.dump(settings.secret_key, auth.AdminSession(shop.shop_id, "user:1", "x" * 24,
                                                               sid="not-a-session"))  # fmt: skip
    assert not await _opens(client, made_up)
    old_style = auth._serializer(settings.secret_key).dumps(
        {"shop": shop.shop_id, "who": "user:1", "csrf": "x" * 24, "lang": None}
    )
    assert not await _opens(client, old_style)
