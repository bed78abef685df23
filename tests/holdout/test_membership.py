"""Who is held out: a stable hash gives about the share asked for, the same way every time;
the setting is validated with precise 422s; a member already in the club stays in it when the
share grows, and a smaller share releases holdout customers into the club."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from app.holdout.membership import bucket, place
from app.state import AppState
from tests.conftest import ShopifyShop
from tests.engage.conftest import Club
from tests.holdout.conftest import SALT, customers, hold_out

IDS = [str(207119551 + 7 * i) for i in range(10_000)]


@pytest.mark.parametrize("share_bp", [500, 1000, 2500, 5000])
def test_the_hash_holds_out_about_the_share_and_the_same_ids_every_time(share_bp: int) -> None:
    held = {c for c in IDS if bucket(SALT, c) < share_bp}
    expected = len(IDS) * share_bp / 10_000
    sigma = (len(IDS) * share_bp / 10_000 * (1 - share_bp / 10_000)) ** 0.5
    assert abs(len(held) - expected) < 4 * sigma  # e.g. 1,000 ± 120 for 10 %
    assert held == {c for c in IDS if bucket(SALT, c) < share_bp}  # stable
    other = {c for c in IDS if bucket("another-shop-salt", c) < share_bp}
    assert other != held  # another shop holds out other customers
    assert abs(len(other) - expected) < 4 * sigma


def test_a_larger_share_holds_out_everyone_a_smaller_one_did() -> None:
    ten = {c for c in IDS if bucket(SALT, c) < 1000}
    twenty = {c for c in IDS if bucket(SALT, c) < 2000}
    assert ten < twenty


async def test_the_setting_is_off_by_default_and_refused_precisely(
    client: httpx.AsyncClient, shopify_shop: ShopifyShop
) -> None:
    r = await client.get("/api/v1/holdout", headers=shopify_shop.auth)
    assert r.status_code == 200
    assert r.json()["enabled"] is False
    assert r.json()["share_percent"] == "0.00"
    for body, where in [
        ({"share_percent": 51}, "share_percent"),
        ({"share_percent": -1}, "share_percent"),
        ({"share_percent": "10.001"}, "share_percent"),
        ({"share_percent": "ten"}, "share_percent"),
        ({"share_percent": 10, "salt": "short"}, "salt"),
        ({"share_percent": 10, "extra": 1}, "extra"),
        ({}, "share_percent"),
    ]:
        r = await client.put("/api/v1/holdout", json=body, headers=shopify_shop.auth)
        assert r.status_code == 422, (body, r.text)
        error = r.json()["error"]
        assert error["code"] == "validation_error"
        assert where in error["message"], (body, error)
    r = await client.get("/api/v1/holdout", headers=shopify_shop.auth)
    assert r.json()["enabled"] is False  # nothing refused was kept
    r = await hold_out(client, shopify_shop.auth, "12.5")
    assert r.json() | {"customers": None} == {
        "share_percent": "12.50", "enabled": True, "salt": SALT,
        "started_at": r.json()["started_at"], "customers": None,
    }  # fmt: skip
    # A new share keeps the salt unless one is given.
    assert (await hold_out(client, shopify_shop.auth, "20", salt=None)).json()["salt"] == SALT


async def test_members_stay_members_when_the_share_grows_and_the_released_join_the_club(
    client: httpx.AsyncClient, state: AppState, club: Club
) -> None:
    shop = club.shop
    now = datetime(2026, 12, 1, tzinfo=UTC)
    await hold_out(client, shop.auth, "10")
    # Hashed into the club at 10 %, into the holdout at 50 %.
    (late,) = [c for c in customers(5000, held_out=True, count=40) if bucket(SALT, c) >= 1000][:1]
    (held,) = customers(1000, held_out=True)
    (had_points,) = [c for c in customers(1000, held_out=True, count=2) if c != held]
    adjustment = {"points": 10, "reason": "before", "idempotency_key": "k"}
    r = await client.post(
        f"/api/v1/members/{had_points}/adjustments", headers=shop.auth, json=adjustment
    )
    assert r.status_code == 201
    async with state.db.write() as session:
        placed = await place(session, shop.shop_id, [late, held, had_points], now)
    assert [placed[c].held_out for c in (late, held, had_points)] == [False, True, False]

    await hold_out(client, shop.auth, "50")
    async with state.db.write() as session:
        again = await place(session, shop.shop_id, [late, held], now)
    assert again[late].held_out is False  # placed in the club at 10 %: still in it
    counts = (await client.get("/api/v1/holdout", headers=shop.auth)).json()["customers"]
    assert counts == {"holdout": 1, "member": 1, "enrolled": 1, "released": 0}

    await hold_out(client, shop.auth, "0")  # off: everyone held out joins the club
    async with state.db.write() as session:
        released = (await place(session, shop.shop_id, [held], now))[held]
    assert released.held_out is False
    assert released.released_at is not None
    assert released.held_out_at(datetime(2020, 1, 1, tzinfo=UTC))  # what they did while out
    counts = (await client.get("/api/v1/holdout", headers=shop.auth)).json()["customers"]
    assert counts == {"holdout": 0, "member": 1, "enrolled": 1, "released": 1}
