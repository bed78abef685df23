"""The admin's program page over HTTP: the version in force in words and its history; the draft
form, one fieldset per rule with fields named by document path, its mistakes shown beside the
field in the owner's language; simulate (the same figures as ``POST /api/v1/program/simulate``
for the same draft); save as a new version; every post refused without the CSRF token."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jdatetime
import pytest
from fastapi.routing import APIRoute

from app.admin import program_form
from app.admin.program_pages import router
from app.orm import utcnow
from app.program import service as program
from app.program import versions
from app.program.document import ProgramDocument
from app.state import AppState
from tests.admin.helpers import csrf_of, sign_in
from tests.admin.program_shop import form_values, points_at, program_shop, shown

PAGE = "/admin/program"


async def _signed_in(client: httpx.AsyncClient, state: AppState) -> Any:
    admin, shop = await program_shop(client, state)
    r = await sign_in(client, admin)
    assert r.status_code == 303
    return admin, shop


async def _history(state: AppState, shop_id: int) -> versions.ProgramHistory:
    async with state.db.read() as session:
        return await versions.load(session, shop_id)


async def test_the_page_says_the_program_in_force_in_words_with_its_versions(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin, _ = await _signed_in(client, state)
    when = utcnow() + timedelta(minutes=5)
    document = ProgramDocument.model_validate({
        "timezone": "Asia/Tehran", "currency": "IRR",
        "rules": [
            {"key": "purchase", "type": "purchase", "points": 2, "per_units": 10000},
            {"key": "yalda", "type": "campaign", "starts_at": "2026-12-20T20:30:00Z",
             "ends_at": "2026-12-22T20:30:00Z", "multiplier": "2", "bonus": 50},
        ],
    })  # fmt: skip
    async with state.db.write() as session:
        await program.publish(session, admin.shop_id, document, utcnow())
        await program.publish(session, admin.shop_id, document.model_copy(update={"rules": []}),
                              utcnow(), when)  # fmt: skip
    en = await client.get(f"{PAGE}?lang=en")
    assert en.status_code == 200
    assert "Version 2, in force" in en.text
    assert "2 points for every 10,000 Rial spent" in en.text
    assert (
        "From 2026-12-21 00:00 to 2026-12-23 00:00: purchase points ×2 and 50 points more"
        in en.text
    )
    rows = re.findall(r'<tr data-version="(\d+)">(.*?)</tr>', en.text, re.S)
    assert [v for v, _ in rows] == ["3", "2", "1"]  # newest first
    assert "Scheduled" in rows[0][1]
    assert "In force" in rows[1][1]
    assert "Replaced" in rows[2][1]
    local = when.astimezone(ZoneInfo("Asia/Tehran"))
    assert local.strftime("%Y-%m-%d %H:%M") in rows[0][1]

    fa = await client.get(f"{PAGE}?lang=fa")
    assert 'dir="rtl"' in fa.text
    assert "نسخه ۲، در حال اجرا" in fa.text
    assert "۲ امتیاز به ازای هر ۱۰٬۰۰۰ ریال خرید" in fa.text
    jalali = jdatetime.datetime.fromgregorian(datetime=local).strftime("%Y/%m/%d %H:%M")
    assert jalali.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")) in fa.text


async def test_one_point_is_said_in_the_singular(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin, _ = await _signed_in(client, state)
    document = ProgramDocument.model_validate({
        "timezone": "UTC", "currency": "IRR",
        "rules": [
            {"key": "purchase", "type": "purchase", "points": 1, "per_units": 10000},
            {"key": "yalda", "type": "campaign", "starts_at": "2026-12-20T20:30:00Z",
             "ends_at": "2026-12-22T20:30:00Z", "bonus": 1},
        ],
    })  # fmt: skip
    async with state.db.write() as session:
        await program.publish(session, admin.shop_id, document, utcnow())
    en = await client.get(f"{PAGE}?lang=en")
    assert "1 point for every 10,000 Rial spent" in en.text
    assert "1 point more" in en.text
    assert "1 points" not in en.text


async def test_a_mistake_is_shown_beside_its_field_in_the_owners_language_and_nothing_is_saved(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin, _ = await _signed_in(client, state)
    page = await client.get(f"{PAGE}?lang=en")
    values = form_values(page.text)
    assert values["rules.0.points"] == "1"  # the default rule, its field named by its path
    added = await client.post(PAGE, data={**values, "action": "add_rule", "add_type": "campaign"})
    values = form_values(added.text)
    assert values["rules.1.type"] == "campaign"
    assert values["rules.1.key"] == "campaign"
    bad = {**values, "rules.0.points": "many", "rules.1.starts_at": "2026-12-10T00:00",
           "rules.1.ends_at": "2026-12-01T00:00", "rules.1.bonus": "5", "hold_days": "999",
           "action": "save"}  # fmt: skip
    r = await client.post(PAGE, data=bad)
    assert r.status_code == 422
    for field, said in (
        ("rules-0-points", "Enter a whole number."),
        ("rules-1-ends_at", "Must be after the start."),
        ("hold_days", "At most 365."),
    ):
        assert re.search(rf'<p class="err" id="e-{field}">{re.escape(said)}</p>', r.text), field
        # The input itself points at its message, and keeps what was typed.
        assert re.search(
            rf'id="f-{field}"[^>]*aria-invalid="true" aria-describedby="e-{field}"', r.text
        )
    assert 'value="many"' in r.text
    assert len((await _history(state, admin.shop_id)).versions) == 1

    fa = await client.post(f"{PAGE}?lang=fa", data=bad)
    assert '<p class="err" id="e-rules-0-points">یک عدد صحیح وارد کنید.</p>' in fa.text
    assert '<p class="err" id="e-hold_days">حداکثر ۳۶۵.</p>' in fa.text
    assert '<p class="err" id="e-rules-1-ends_at">باید پس از زمان شروع باشد.</p>' in fa.text


async def test_save_publishes_the_draft_as_a_new_version_now_or_later(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin, _ = await _signed_in(client, state)
    values = form_values((await client.get(f"{PAGE}?lang=en")).text)
    r = await client.post(PAGE, data={**values, "rules.0.points": "3", "action": "save"})
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "Saved as version 2." in page.text
    assert "3 points for every 1" in page.text
    history = await _history(state, admin.shop_id)
    assert [v.version for v in history.versions] == [1, 2]
    rule = history.latest.document.rules[0]
    assert rule.type == "purchase"
    assert rule.points == 3

    values = form_values(page.text)
    again = await client.post(PAGE, data={**values, "action": "save"})
    assert "nothing was saved" in again.text  # the same program sent twice: one version
    past = await client.post(PAGE, data={**values, "rules.0.points": "4", "action": "save",
                                          "effective_at": "2020-01-01T00:00"})  # fmt: skip
    assert past.status_code == 422
    assert re.search(r'<p class="err" id="e-effective_at">That time has passed', past.text)
    later = (utcnow() + timedelta(days=3)).astimezone(ZoneInfo("UTC"))
    at = later.strftime("%Y-%m-%dT%H:%M")
    scheduled = await client.post(
        PAGE, data={**values, "rules.0.points": "4", "action": "save", "effective_at": at}
    )
    assert scheduled.status_code == 303
    history = await _history(state, admin.shop_id)
    assert history.latest.version == 3
    assert history.latest.effective_at == later.replace(second=0, microsecond=0)
    assert history.at(utcnow()).version == 2  # still version 2 until then


async def test_simulate_shows_the_drafts_totals_the_api_gives_for_the_same_draft(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin, shop = await _signed_in(client, state)
    values = form_values((await client.get(f"{PAGE}?lang=en")).text)
    draft = {**values, "rules.0.points": "3"}
    r = await client.post(PAGE, data={**draft, "action": "simulate"})
    assert r.status_code == 200, r.text
    assert shown(r.text, "data-sim", "live-points_issued") == f"{points_at(1):,}"
    assert shown(r.text, "data-sim", "draft-points_issued") == f"{points_at(3):,}"

    document = ProgramDocument.model_validate(program_form.from_form(draft, ZoneInfo("UTC")))
    api = await client.post("/api/v1/program/simulate", json={"draft": document.to_json()},
                            headers=shop.auth)  # fmt: skip
    assert api.status_code == 200, api.text
    body = api.json()
    for side in ("draft", "live"):
        for name in ("points_issued", "expected_redemptions", "points_outstanding"):
            assert shown(r.text, "data-sim", f"{side}-{name}") == f"{body[side][name]:,}"
    assert body["draft"]["points_issued"] == points_at(3)
    # The draft lives in the form: the page comes back holding it, ready to be saved.
    assert form_values(r.text)["rules.0.points"] == "3"
    assert len((await _history(state, admin.shop_id)).versions) == 1  # nothing saved

    # With a point value the liability is money, in the shop's currency, and a share of revenue.
    valued = {**draft, "point_value_minor": "10", "currency": "USD", "action": "simulate"}
    r = await client.post(PAGE, data=valued)
    outstanding = points_at(3) - body["draft"]["expected_redemptions"]
    assert (
        shown(r.text, "data-sim", "draft-liability")
        == f"{Decimal(outstanding * 10) / 100:,.2f} USD"
    )
    # Tiers in the draft: at 3 points a unit the first member (543 points) reaches gold at 200.
    tiered = {**draft, "tiers._on": "1", "action": "simulate",
              "tiers.levels.0.key": "base", "tiers.levels.0.threshold": "0",
              "tiers.levels.0.names.en": "Base", "tiers.levels.1.key": "gold",
              "tiers.levels.1.threshold": "200", "tiers.levels.1.names.en": "Gold"}  # fmt: skip
    r = await client.post(PAGE, data=tiered)
    assert r.status_code == 200, r.text
    assert shown(r.text, "data-sim", "draft-tier-gold") == "1"
    assert shown(r.text, "data-sim", "draft-tier-base") == "1"
    future = await client.post(PAGE, data={**valued, "since": "2999-01-01"})
    assert future.status_code == 422
    assert '<p class="err" id="e-since">That day has not come yet.</p>' in future.text


RULES: dict[str, dict[str, str]] = {
    "purchase": {"points": "2", "per_units": "10", "rounding": "nearest"},
    "first_order": {"points": "100"},
    "nth_order": {"points": "50", "every": "3"},
    "spend_goal": {"reward_id": "7", "amount_minor": "500000", "period": "jalali_year"},
    "signup": {"points": "20", "names.fa": "خوش‌آمد"},
    "birthday": {"points": "30", "max_per_period.unit": "year", "max_per_period.count": "1"},
    "event": {"points": "5", "event": "social_follow", "max_per_member": "1"},
    "campaign": {"starts_at": "2026-12-20T00:00", "ends_at": "2026-12-23T00:00",
                 "multiplier": "1.5", "tiers": "gold"},
    "referral": {"advocate_points": "200", "friend_points": "100"},
    "badge": {"names.en": "Regular", "metric": "orders", "count": "5", "within_days": "90"},
}  # fmt: skip


async def test_every_rule_type_has_a_form_and_tiers_their_levels_all_saved_as_typed(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin, _ = await _signed_in(client, state)
    page = await client.get(f"{PAGE}?lang=en")
    values = form_values(page.text)
    values = form_values(
        (await client.post(PAGE, data={**values, "action": "remove:rules:0"})).text
    )
    assert "rules.0.type" not in values
    for kind in program_form.RULE_TYPES:
        added = await client.post(PAGE, data={**values, "action": "add_rule", "add_type": kind})
        assert added.status_code == 200
        values = form_values(added.text)
        n = max(program_form.indices(values, "rules"))
        assert values[f"rules.{n}.type"] == kind
        values |= {f"rules.{n}.{k}": v for k, v in RULES[kind].items()}
    for _ in range(2):
        values = form_values((await client.post(PAGE, data={**values, "action": "add_level"})).text)
    values |= {"tiers.levels.0.key": "base", "tiers.levels.0.names.en": "Base",
               "tiers.levels.1.key": "gold", "tiers.levels.1.threshold": "1000",
               "tiers.levels.1.names.fa": "طلایی", "tiers.levels.1.multiplier": "1.25",
               "timezone": "Asia/Tehran"}  # fmt: skip
    r = await client.post(PAGE, data={**values, "action": "save"})
    assert r.status_code == 303, re.findall(r'<p class="err"[^>]*>[^<]*</p>', r.text)
    saved = (await _history(state, admin.shop_id)).latest.document
    assert [rule.type for rule in saved.rules] == list(program_form.RULE_TYPES)
    by_type = {r.type: r.model_dump(mode="json", exclude_none=True) for r in saved.rules}
    assert by_type["purchase"]["per_units"] == 10
    assert by_type["purchase"]["rounding"] == "nearest"
    assert by_type["spend_goal"]["reward_id"] == 7
    assert by_type["birthday"]["max_per_period"] == {"unit": "year", "count": 1}
    assert by_type["campaign"]["tiers"] == ["gold"]
    # Times typed are in the zone the draft names: 00:00 in Tehran is 20:30 UTC the day before.
    assert by_type["campaign"]["starts_at"] == "2026-12-19T20:30:00Z"
    assert by_type["badge"]["names"] == {"en": "Regular"}
    assert saved.tiers is not None
    assert [level.key for level in saved.tiers.levels] == [
        "base",
        "gold",
    ]
    assert str(saved.tiers.levels[1].multiplier) == "1.25"

    # What the form shows of the saved program is that program: saved again, nothing changes.
    page = await client.get(PAGE)
    assert "Asia/Tehran" in page.text
    same = await client.post(PAGE, data={**form_values(page.text), "action": "save"})
    assert "nothing was saved" in same.text
    # A level removed and tiers turned off come back as the form without them.
    values = form_values(page.text)
    fewer = form_values(
        (await client.post(PAGE, data={**values, "action": "remove:tiers.levels:1"})).text
    )
    assert "tiers.levels.1.key" not in fewer
    assert fewer["tiers.levels.0.key"] == "base"
    off = form_values((await client.post(PAGE, data={**values, "action": "tiers_off"})).text)
    assert "tiers._on" not in off


async def test_what_the_form_has_no_field_for_is_kept(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin, _ = await _signed_in(client, state)
    document = ProgramDocument.model_validate({
        "rules": [{"key": "purchase", "type": "purchase", "points": 1,
                   "multipliers": [{"match": {"skus": ["tea"]}, "multiplier": "2"}],
                   "exclusions": [{"categories": ["gift-cards"]}]}],
        "tiers": {"levels": [{"key": "base", "threshold": 0, "names": {"en": "Base"}},
                             {"key": "vip", "threshold": 10**9, "names": {"en": "VIP"}}]},
        "membership": {"skus": ["vip-card"], "tier": "vip", "term_days": 365},
        "currency_exponents": {"IRR": 0},
    })  # fmt: skip
    async with state.db.write() as session:
        await program.publish(session, admin.shop_id, document, utcnow())
    page = await client.get(f"{PAGE}?lang=en")
    assert "product multipliers and exclusions are kept" in page.text
    values = form_values(page.text)
    r = await client.post(PAGE, data={**values, "rules.0.points": "2", "action": "save"})
    assert r.status_code == 303
    saved = (await _history(state, admin.shop_id)).latest.document
    assert (
        saved.model_dump()
        == document.model_copy(
            update={"rules": [document.rules[0].model_copy(update={"points": 2})]}
        ).model_dump()
    )


POSTS = [r for r in router.routes if isinstance(r, APIRoute) and "POST" in r.methods]


@pytest.mark.parametrize("route", POSTS, ids=lambda r: r.path)
@pytest.mark.parametrize(
    "action", ["simulate", "save", "add_rule", "add_level", "tiers_off", "remove:rules:0"]
)
async def test_every_program_form_refuses_a_missing_or_wrong_csrf_token(
    client: httpx.AsyncClient, state: AppState, route: APIRoute, action: str
) -> None:
    admin, _ = await _signed_in(client, state)
    page = await client.get(route.path)
    values = form_values(page.text)
    assert values.pop("csrf") == csrf_of(page.text)
    for data in (values, {**values, "csrf": "forged"}):
        r = await client.post(route.path, data={**data, "action": action, "add_type": "signup",
                                                "rules.0.points": "9"})  # fmt: skip
        assert r.status_code == 403, (action, r.text)
        assert r.json()["error"]["code"] == "csrf_refused"
    assert len((await _history(state, admin.shop_id)).versions) == 1


async def test_the_page_needs_a_session(client: httpx.AsyncClient, state: AppState) -> None:
    r = await client.get(PAGE)
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/sign-in"
    r = await client.post(PAGE, data={"action": "save"})
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/sign-in"
