"""The gamified club (issue 11), set through ``PUT /api/v1/program`` and driven by signed
Shopify webhooks and ``POST /api/v1/members/{id}/events``: points for joining, reviews, a
survey and a completed profile, each within its cap; a "3 orders in 30 days" challenge worth
100 points and a "3 reviews" badge; an opt-in leaderboard of the month.

The version is in force from the PUT (no ``effective_at``), so that the events happen after it
at the real time, as the route requires (never in the future); the orders are paid days after
it, which is what the challenge's 30-day window counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from app.ledger.verify import verify_shop
from app.state import AppState
from tests.conftest import ShopifyShop
from tests.engage.conftest import CUSTOMER, Club
from tests.program.club import ledger_lines, put_program

SARA = "5551234567"
NIMA = "5551234500"

GAMIFIED: dict[str, Any] = {
    "timezone": "Asia/Tehran",
    "rules": [
        {"key": "purchase", "type": "purchase", "points": 1},  # 1 point per whole dollar
        {"key": "welcome", "type": "signup", "points": 25},
        {"key": "review", "type": "event", "event": "review", "points": 20, "max_per_member": 5},
        {"key": "survey", "type": "event", "event": "survey", "points": 30,
         "max_per_period": {"unit": "month", "count": 1}},
        {"key": "profile", "type": "event", "event": "profile_completed", "points": 50,
         "max_per_member": 1},
        {"key": "regular", "type": "badge", "names": {"en": "Regular", "fa": "مشتری همیشگی"},
         "metric": "orders", "count": 3, "within_days": 30, "points": 100},
        {"key": "critic", "type": "badge", "names": {"en": "Critic", "fa": "منتقد"},
         "metric": "events", "event": "review", "count": 3},
    ],
    "leaderboard": {"enabled": True, "size": 10, "window": "month"},
}  # fmt: skip


@pytest.fixture
async def club(client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop) -> Club:
    return Club(client, state, shopify_shop)


async def _set(club: Club) -> tuple[int, datetime]:
    """PUT the program, in force from now: its version and when it took effect."""
    r = await put_program(club.client, club.shop, GAMIFIED, effective_at=None)
    assert r.status_code == 201, r.text
    return r.json()["version"], datetime.fromisoformat(r.json()["effective_at"])


async def test_the_gamified_club_runs_as_its_owner_computes_it(club: Club) -> None:
    version, effective = await _set(club)
    assert version == 2  # version 1 is the shop's settings
    v = f"program v{version}"

    await club.join()  # customers/create: joining the club, 25
    assert await club.available() == 25
    # Three reviews, 20 each (5 at most): 60, and the third completes the Critic badge.
    for n in (1, 2):
        assert await club.earned("review", f"review-{n}") == 20
    third = await club.event("review", "review-3")
    assert (third.status_code, third.json()["points"]) == (201, 20)
    r = await club.event("review", "review-1")  # the same review sent again: nothing new
    assert (r.status_code, r.json()["points"], r.json()["created"]) == (200, 20, False)
    # A survey, 30, once a month: the second this month earns nothing.
    assert await club.earned("survey", "survey-1") == 30
    assert await club.earned("survey", "survey-2") == 0
    # The profile completed, 50, once.
    assert await club.earned("profile_completed", "profile-1") == 50
    assert await club.earned("profile_completed", "profile-2") == 0
    assert await club.available() == 25 + 60 + 30 + 50 == 165

    # "3 orders in 30 days" (less than 30 × 24 hours from the first to the third): orders on
    # days 1, 20 and 45 after the program are no three of them (1 → 45 is 44 days, 20 → 45
    # two orders); day 49 makes 20, 45 and 49, 29 days: the challenge, +100.
    paid = {day: effective + timedelta(days=day) for day in (1, 20, 45, 49)}
    await club.order(9001, paid[1], "10.00")
    await club.order(9002, paid[20], "20.00")
    await club.order(9003, paid[45], "30.00")
    assert (await club.badges())["regular"]["completed_at"] is None
    assert await club.available() == 165 + 10 + 20 + 30 == 225
    await club.order(9004, paid[49], "40.00")
    assert await club.available() == 225 + 40 + 100 == 365

    badges = await club.badges()
    assert (badges["regular"]["current"], badges["regular"]["target"]) == (3, 3)
    assert datetime.fromisoformat(badges["regular"]["completed_at"]) == paid[49]
    assert (badges["critic"]["current"], badges["critic"]["target"]) == (3, 3)
    assert badges["critic"]["completed_at"] == third.json()["occurred_at"]

    assert await ledger_lines(club.client, club.shop, CUSTOMER) == [
        (25, f"25 points: joined the club (rule welcome, {v})"),
        (20, f"20 points: review (rule review, {v})"),
        (20, f"20 points: review (rule review, {v})"),
        (20, f"20 points: review (rule review, {v})"),
        (30, f"30 points: survey (rule survey, {v})"),
        (50, f"50 points: profile_completed (rule profile, {v})"),
        (10, f"10 points: 10.00 USD spent on order #9001 (rule purchase, {v})"),
        (20, f"20 points: 20.00 USD spent on order #9002 (rule purchase, {v})"),
        (30, f"30 points: 30.00 USD spent on order #9003 (rule purchase, {v})"),
        (40, f"40 points: 40.00 USD spent on order #9004 (rule purchase, {v})"),
        (100, f"100 points: badge Regular completed (rule regular, {v})"),
    ]

    # Sara (a review, 20) and Nima (a survey, 30) join too; Nima does not opt in.
    await club.join(SARA, "Sara", "Karimi")
    await club.join(NIMA, "Nima", "Ahmadi")
    assert await club.earned("review", "sara-review-1", customer_id=SARA) == 20
    assert await club.earned("survey", "nima-survey-1", customer_id=NIMA) == 30
    for customer in (CUSTOMER, SARA):
        r = await club.client.put(
            f"/api/v1/members/{customer}/leaderboard", json={"opt_in": True},
            headers=club.shop.auth,
        )  # fmt: skip
        assert r.status_code == 200, r.text
    r = await club.client.get("/api/v1/leaderboard", headers=club.shop.auth)
    assert r.status_code == 200, r.text
    board = r.json()
    assert board["window"] == "month"
    # Points earned this month: Bob 365, Sara 25 + 20 = 45; Nima's 55 is not shown.
    assert [(e["rank"], e["display_name"], e["points"]) for e in board["entries"]] == [
        (1, "B.N. ··51", 365),
        (2, "S.K. ··67", 45),
    ]
    for private in ("Bob", "Norman", "Sara", "Karimi", "Nima", "@", CUSTOMER):
        assert private not in r.text

    async with club.state.db.read() as session:
        assert await verify_shop(session, club.shop.shop_id) == []
