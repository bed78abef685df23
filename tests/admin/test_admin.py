"""The admin over HTTP: signing in (password, one-time link, limits), a member found, adjusted
and shown with the reason; every form refuses a missing or wrong CSRF token and every page keeps
to the signed-in shop — both generated from the admin's route table, so a page added later is
covered without touching this file."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jdatetime
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from app.admin import auth
from app.config import Settings
from app.ledger.models import LedgerTransaction
from app.limits import MAX_ADJUSTMENT_POINTS
from app.main import create_app
from app.orm import utcnow
from app.program.document import ProgramDocument
from app.ratelimits import SignInLimits
from app.state import AppState
from tests.admin.helpers import (
    PASSWORD,
    AdminShop,
    admin_shop,
    csrf_of,
    session_token,
    sign_in,
)
from tests.tenancy import rows_of


def _admin_routes() -> list[APIRoute]:
    """Every admin page, whichever module serves it (app/admin/pages.py and its neighbours),
    as the app has them (FastAPI keeps an included router whole: its routes are read from it)."""
    found = []
    for entry in create_app(Settings()).routes:
        for route in getattr(getattr(entry, "original_router", None), "routes", [entry]):
            if isinstance(route, APIRoute) and route.path.split("/")[1] == "admin":
                found.append(route)
    return found


ROUTES = _admin_routes()
# Reached before a session exists.
OPEN = {"/admin/sign-in", "/admin/link/{shop_id}/{token}", "/admin/link/{shop_id}"}


async def test_sign_in_then_find_a_member_and_adjust_their_points(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop = await admin_shop(state)
    assert (await client.get("/admin", follow_redirects=False)).headers[
        "location"
    ] == "/admin/sign-in"
    signed = await sign_in(client, shop)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    overview = await client.get("/admin?lang=en")
    assert re.search(r'data-stat="outstanding">250<', overview.text)

    found = await client.get("/admin/members", params={"q": "SARA@example"})
    assert "/admin/members/207119551" in found.text
    assert (await client.get("/admin/members", params={"q": "Ahmadi"})).text.count("207119551") >= 1
    assert "No member matches" in (await client.get("/admin/members", params={"q": "nobody"})).text

    page = await client.get("/admin/members/207119551")
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key is not None
    form = {"csrf": csrf_of(page.text), "key": key.group(1), "points": "-40",
            "reason": "returned a gift"}  # fmt: skip
    done = await client.post("/admin/members/207119551/adjust", data=form)
    assert done.status_code == 303
    again = await client.post("/admin/members/207119551/adjust", data=form)  # sent twice
    assert again.status_code == 303
    shown = await client.get(done.headers["location"])
    assert re.search(r'data-stat="available">210<', shown.text)
    assert shown.text.count("returned a gift") == 1
    assert "-40" in shown.text


async def test_in_persian_digits_and_jalali_dates(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop = await admin_shop(state)
    await sign_in(client, shop)
    page = await client.get("/admin/members/207119551?lang=fa")
    assert 'dir="rtl"' in page.text
    assert 'data-stat="available">۲۵۰<' in page.text
    # The ledger line's date, made now, in the shop's time zone (the default program's).
    local = utcnow().astimezone(ZoneInfo(ProgramDocument().timezone))
    jalali_year = str(jdatetime.datetime.fromgregorian(datetime=local).year).translate(
        str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
    )
    assert f">{jalali_year}/" in page.text
    assert "ردیف‌های دفتر" in page.text
    # The choice sticks.
    assert 'lang="fa"' in (await client.get("/admin")).text


async def test_a_wrong_password_or_store_gets_the_same_answer(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop = await admin_shop(state)
    wrong = await sign_in(client, shop, password="not it at all")
    other = await sign_in(client, AdminShop(shop.shop_id, "nowhere.myshopify.com", shop.email))
    assert wrong.status_code == other.status_code == 401
    assert "the e-mail or the password is wrong" in wrong.text
    assert "the e-mail or the password is wrong" in other.text
    assert auth.COOKIE not in wrong.headers.get("set-cookie", "")


async def test_guessing_is_slowed_down(client: httpx.AsyncClient, state: AppState) -> None:
    state.sign_in_limits = SignInLimits(per_email="3/minute")
    shop = await admin_shop(state)
    statuses = [(await sign_in(client, shop, password="guess")).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = await sign_in(client, shop)  # even the right password, for now
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


async def _use_link(client: httpx.AsyncClient, shop_id: int, token: str) -> httpx.Response:
    """Open the link, then press its button, as the owner does."""
    page = await client.get(f"/admin/link/{shop_id}/{token}")
    assert page.status_code == 200
    return await client.post(f"/admin/link/{shop_id}", data={"csrf": csrf_of(page.text),
                             "token": token}, follow_redirects=False)  # fmt: skip


async def test_a_sign_in_link_works_once_and_not_after_15_minutes(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop = await admin_shop(state)
    async with state.db.write() as session:
        token = await auth.make_link(session, shop.shop_id, utcnow())
        old = await auth.make_link(session, shop.shop_id, utcnow() - timedelta(minutes=16))
    used = await _use_link(client, shop.shop_id, token)
    assert used.status_code == 303
    assert auth.COOKIE in used.headers["set-cookie"]
    client.cookies.clear()
    assert (await _use_link(client, shop.shop_id, token)).status_code == 401
    assert (await _use_link(client, shop.shop_id, old)).status_code == 401
    other = await admin_shop(state, "other")
    assert (await _use_link(client, other.shop_id, token)).status_code == 401


async def test_opening_a_link_signs_nobody_in_and_leaves_it_usable(
    client: httpx.AsyncClient, state: AppState, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a link preview or another site's <img> does: a GET. It shows a button only."""
    shop = await admin_shop(state)
    async with state.db.write() as session:
        token = await auth.make_link(session, shop.shop_id, utcnow())
    for _ in range(2):
        page = await client.get(f"/admin/link/{shop.shop_id}/{token}", follow_redirects=False)
        assert page.status_code == 200
        assert f"{auth.COOKIE}=" not in page.headers.get("set-cookie", "")
        assert f'action="/admin/link/{shop.shop_id}"' in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
    # Another site posting the token: no strict cookie from the confirmation page, refused.
    forged = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    refused = await forged.post(f"/admin/link/{shop.shop_id}",
                                data={"csrf": csrf_of(page.text), "token": token})  # fmt: skip
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_refused"
    signed = await client.post(f"/admin/link/{shop.shop_id}",
                               data={"csrf": csrf_of(page.text), "token": token})  # fmt: skip
    assert signed.status_code == 303
    assert auth.COOKIE in signed.headers["set-cookie"]
    logged = capsys.readouterr().err
    assert f"/admin/link/{shop.shop_id}/[redacted]" in logged
    assert token not in logged  # the request log never has it


async def test_a_non_ascii_csrf_token_is_refused_not_a_crash(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop = await admin_shop(state)
    form = await client.get("/admin/sign-in")
    assert csrf_of(form.text)
    pre = await client.post("/admin/sign-in", data={"csrf": "é", "store": shop.domain,
                            "email": shop.email, "password": PASSWORD})  # fmt: skip
    assert pre.status_code == 403
    await sign_in(client, shop)
    r = await client.post("/admin/settings", data={"csrf": "é", "lang": "fa"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf_refused"


@pytest.mark.parametrize("status", ["pending", "disabled"])
async def test_a_shop_not_connected_or_turned_off_cannot_be_signed_in_to(
    client: httpx.AsyncClient, state: AppState, status: str
) -> None:
    shop = await admin_shop(state)
    await sign_in(client, shop)
    assert (await client.get("/admin", follow_redirects=False)).status_code == 200
    await _set_status(state, shop.shop_id, status)
    assert (await client.get("/admin", follow_redirects=False)).status_code == 303
    client.cookies.clear()
    assert (await sign_in(client, shop)).status_code == 401
    async with state.db.write() as session:
        token = await auth.make_link(session, shop.shop_id, utcnow())
    assert (await _use_link(client, shop.shop_id, token)).status_code == 401


async def _set_status(state: AppState, shop_id: int, status: str) -> None:
    from sqlalchemy import update

    from app.shops.models import Shop

    async with state.db.write() as session:
        await session.execute(update(Shop).where(Shop.id == shop_id).values(status=status))
    state.shops.forget()


async def test_an_adjustment_over_the_limit_or_a_form_sent_again_changed_is_refused_on_the_page(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop = await admin_shop(state)
    await sign_in(client, shop)
    page = await client.get("/admin/members/207119551?lang=en")
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key is not None
    form = {"csrf": csrf_of(page.text), "key": key.group(1), "reason": "goodwill"}
    big = await client.post("/admin/members/207119551/adjust",
                            data={**form, "points": str(MAX_ADJUSTMENT_POINTS + 1)})  # fmt: skip
    assert big.status_code == 422
    assert "at most 1,000,000,000,000 points" in big.text
    assert 'role="alert"' in big.text
    assert re.search(r'data-stat="available">250<', big.text)
    done = await client.post("/admin/members/207119551/adjust", data={**form, "points": "10"})
    assert done.status_code == 303
    changed = await client.post("/admin/members/207119551/adjust",
                                data={**form, "points": "90"})  # fmt: skip
    assert changed.status_code == 409
    assert "saved already with other values" in changed.text
    assert "Adjusted." not in changed.text
    assert re.search(r'data-stat="available">260<', changed.text)
    empty = await client.post("/admin/members/207119551/adjust", data={**form, "points": "x"})
    assert empty.status_code == 422
    assert "whole number of points" in empty.text


async def test_a_customer_id_with_a_slash_is_one_path_segment(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop = await admin_shop(state, member="a/b?c", email="slash@example.com")
    await sign_in(client, shop)
    found = await client.get("/admin/members", params={"q": "slash@"})
    assert 'href="/admin/members/a%2Fb%3Fc"' in found.text
    page = await client.get("/admin/members/a%2Fb%3Fc?lang=en")
    assert page.status_code == 200
    assert 'action="/admin/members/a%2Fb%3Fc/adjust"' in page.text
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key is not None
    done = await client.post("/admin/members/a%2Fb%3Fc/adjust", data={
        "csrf": csrf_of(page.text), "key": key.group(1), "points": "5", "reason": "x"})  # fmt: skip
    assert done.status_code == 303
    shown = await client.get(done.headers["location"])
    assert re.search(r'data-stat="available">255<', shown.text)


def _url(route: APIRoute, customer: str, reward: int = 1) -> str:
    filled = {"{customer_id:path}": customer, "{job_id}": "1", "{what}": "members",
              "{reward_id}": str(reward), "{referral_id}": "1", "{event_id}": "1"}  # fmt: skip
    path = route.path
    for name, value in filled.items():
        path = path.replace(name, value)
    assert "{" not in path, f"{route.path}: teach tests/admin/test_admin.py what to put there"
    return path


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if "POST" in r.methods and r.path not in OPEN], ids=lambda r: r.path
)
async def test_every_form_refuses_a_missing_or_wrong_csrf_token(
    client: httpx.AsyncClient, state: AppState, route: APIRoute
) -> None:
    shop = await admin_shop(state)
    await sign_in(client, shop)
    before = await _ledger(state, shop.shop_id)
    fields = {"points": "5", "reason": "x", "key": "k", "lang": "fa"}
    for data in (fields, {"csrf": "forged", **fields}):
        r = await client.post(_url(route, "207119551"), data=data)
        assert r.status_code == 403, (route.path, r.text)
        assert r.json()["error"]["code"] == "csrf_refused"
    assert await _ledger(state, shop.shop_id) == before


async def test_the_sign_in_form_refuses_a_missing_csrf_token(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop = await admin_shop(state)
    r = await client.post(
        "/admin/sign-in", data={"store": shop.domain, "email": shop.email, "password": "x" * 12}
    )
    assert r.status_code == 403


async def _ledger(state: AppState, shop_id: int) -> list[Any]:
    async with state.db.read() as session:
        return list(
            (await session.execute(
                select(LedgerTransaction.id).where(LedgerTransaction.shop_id == shop_id)
            )).all()
        )  # fmt: skip


@pytest.mark.parametrize("how", ["cookie", "embedded"])
async def test_every_page_keeps_to_the_signed_in_shop(
    client: httpx.AsyncClient, state: AppState, how: str
) -> None:
    """Signed in with a password (the cookie), or inside the Shopify admin (alpha's session
    token on every request, app/admin/embedded.py)."""
    mine = await admin_shop(state, "alpha", member="111", points=5)
    theirs = await admin_shop(state, "bravo", member="424242", points=777_777,
                              email="bravo-only@example.com")  # fmt: skip
    async with state.db.write() as session:
        from app.rewards import service as rewards
        from app.rewards.schemas import RewardIn

        bravo_reward = await rewards.create_reward(session, theirs.shop_id, RewardIn(
            name="bravo-only reward", kind="amount_off", points_cost=5, value=5))  # fmt: skip
        reward_id = bravo_reward.id
    before = await rows_of(state, theirs.shop_id)
    if how == "cookie":
        await sign_in(client, mine)
    else:
        client.headers["Authorization"] = f"Bearer {session_token(mine.domain)}"
    page = await client.get("/admin/members/111")
    csrf = csrf_of(page.text)
    for route in ROUTES:
        if route.path in OPEN:
            continue
        for method in route.methods:
            data = {"csrf": csrf, "points": "5", "reason": "probe", "key": "probe", "lang": "en"}
            r = await client.request(
                method, _url(route, "424242", reward_id), data=data if method == "POST" else None,
                params={"q": "bravo-only"} if method == "GET" else None,
            )  # fmt: skip
            assert "777,777" not in r.text, route.path
            assert "777777" not in r.text, route.path
            assert "bravo-only@example.com" not in r.text, route.path
            assert "bravo-only reward" not in r.text, route.path
            if how == "embedded":  # alpha's session throughout: each route answered as alpha
                assert r.status_code != 401, (route.path, r.text)
    if how == "cookie":
        await sign_in(client, mine)  # the loop signed out too
    for what in ("members", "ledger"):  # the exports, whatever route list they are in
        export = await client.get(f"/admin/exports/{what}.csv")
        assert export.status_code == 200
        assert "111" in export.text  # alpha's own member is there
        assert "777777" not in export.text, what
        assert "bravo-only" not in export.text, what
    assert await rows_of(state, theirs.shop_id) == before


async def test_the_exports_download_the_signed_in_shops_members(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop = await admin_shop(state)
    await sign_in(client, shop)
    members = await client.get("/admin/exports/members.csv")
    assert members.headers["content-disposition"] == 'attachment; filename="vafa-members.csv"'
    assert members.text.splitlines()[1].startswith("207119551,sara@example.com,Sara,Ahmadi,")
    ledger = await client.get("/admin/exports/ledger.csv")
    assert "welcome gift" in ledger.text


async def test_a_reward_is_added_with_its_mistakes_shown_beside_the_fields(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop = await admin_shop(state)
    await sign_in(client, shop)
    page = await client.get("/admin/rewards?lang=en")
    csrf = csrf_of(page.text)
    wrong = await client.post(
        "/admin/rewards",
        data={
            "csrf": csrf,
            "name": "10% off",
            "kind": "percent_off",
            "points_cost": "200",
            "value": "150",
        },
    )
    assert wrong.status_code == 422
    assert 'id="f-value" name="value" type="number" value="150"' in wrong.text
    assert 'aria-invalid="true" aria-describedby="e-value"' in wrong.text
    assert re.search(r'id="e-value">[^<]*percentage from 1 to 100', wrong.text)
    missing = await client.post("/admin/rewards", data={"csrf": csrf, "kind": "amount_off"})
    assert 'id="e-name"' in missing.text
    assert 'id="e-points_cost"' in missing.text
    done = await client.post(
        "/admin/rewards",
        data={
            "csrf": csrf,
            "name": "10% off",
            "kind": "percent_off",
            "points_cost": "200",
            "value": "10",
        },
    )
    assert done.status_code == 303
    listed = await client.get("/admin/rewards")
    assert "10% off" in listed.text
    assert "Percent off" in listed.text
    reward_id = re.search(r'action="/admin/rewards/(\d+)/active"', listed.text)
    assert reward_id is not None
    await client.post(
        f"/admin/rewards/{reward_id.group(1)}/active", data={"csrf": csrf, "active": "0"}
    )
    assert "Inactive" in (await client.get("/admin/rewards")).text


async def test_the_exports_never_hand_a_spreadsheet_a_formula(
    client: httpx.AsyncClient, state: AppState
) -> None:
    import csv
    import io

    from app.members import adjustments
    from app.members.models import Member

    shop = await admin_shop(state)
    async with state.db.write() as session:
        session.add(Member(shop_id=shop.shop_id, customer_id="9001",
                           first_name='=HYPERLINK("https://evil.example","x")',
                           last_name="@SUM(A1)", email="\tbad@example.com"))  # fmt: skip
        await session.flush()
        await adjustments.adjust(session, shop.shop_id, "9001", 50, idempotency_key="in",
                                 reason="seed")  # fmt: skip
        await adjustments.adjust(session, shop.shop_id, "9001", -40, idempotency_key="out",
                                 reason="+1 for the returned parcel")  # fmt: skip
    await sign_in(client, shop)
    members = {
        row["customer_id"]: row
        for row in csv.DictReader(
            io.StringIO((await client.get("/admin/exports/members.csv")).text)
        )
    }
    assert members["9001"]["first_name"] == '\'=HYPERLINK("https://evil.example","x")'
    assert members["9001"]["last_name"] == "'@SUM(A1)"
    assert members["9001"]["email"] == "'\tbad@example.com"
    assert members["9001"]["available"] == "10"
    ledger = list(csv.DictReader(io.StringIO((await client.get("/admin/exports/ledger.csv")).text)))
    returned = next(r for r in ledger if r["customer_id"] == "9001" and r["points"] == "-40")
    assert returned["reason"] == "'+1 for the returned parcel"  # text: made inert
    # A number stays a number: -40 is not prefixed.


def test_only_text_that_starts_a_formula_is_prefixed() -> None:
    from app.imports.exports import csv_text

    cells = ["=1+1", "+1", "-1", "@x", "\tx", "\rx", "plain", -40, 0, None, "a=b"]
    assert csv_text([cells]).split(",") == [
        "'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "plain", "-40", "0", "", "a=b\n",
    ]  # fmt: skip
