"""Badges over the member's orders and events: the window at its edges, completion once (a
redelivery or a refund changes nothing), event and distinct-day badges, progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.engage.conftest import CUSTOMER, TEHRAN, Club
from tests.payloads import shopify_order, shopify_refund

REGULAR = {"key": "regular", "type": "badge", "names": {"en": "Regular"}, "metric": "orders",
           "count": 3, "within_days": 30, "points": 100}  # fmt: skip


# The default purchase rule, written out: 1 point per whole unit of the order's merchandise.
PURCHASE = {"key": "purchase", "type": "purchase", "points": 1}


def _program(*rules: object) -> dict[str, object]:
    return {"timezone": "Asia/Tehran", "rules": [PURCHASE, *rules]}


class TestOrdersBadge:
    async def test_three_orders_must_be_less_than_30_days_apart(self, club: Club) -> None:
        await club.publish(_program(REGULAR))
        await club.join()
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
        await club.order(1, start, "10.00")
        await club.order(2, start + timedelta(days=10), "10.00")
        await club.order(3, start + timedelta(days=30), "10.00")  # 30 days after the first
        regular = (await club.badges())["regular"]
        # Within the last 30 days only the third counts now.
        assert (regular["current"], regular["target"], regular["completed_at"]) == (1, 3, None)
        assert await club.available() == 30  # the orders' own points, no badge

        fourth = start + timedelta(days=31)  # the 2nd, 3rd and 4th: 21 days apart
        await club.order(4, fourth, "10.00")
        regular = (await club.badges())["regular"]
        assert (regular["current"], regular["target"]) == (3, 3)
        assert datetime.fromisoformat(regular["completed_at"]) == fourth
        assert await club.available() == 40 + 100

        await club.order(4, fourth, "10.00")  # delivered again
        await club.order(5, fourth + timedelta(days=1), "10.00")  # one more order
        assert await club.available() == 50 + 100

    async def test_a_refund_after_completion_keeps_the_badge(self, club: Club) -> None:
        await club.publish(_program(REGULAR))
        await club.join()
        now = datetime.now(UTC).replace(microsecond=0)
        for i in range(3):
            await club.order(10 + i, now - timedelta(days=3 - i), "10.00")
        assert await club.available() == 30 + 100
        refunded = shopify_order(
            12, customer_id=int(CUSTOMER), financial_status="refunded",
            updated_at=now.isoformat(),
        )  # fmt: skip
        await club.deliver("orders/updated", refunded)
        assert (await club.badges())["regular"]["completed_at"] is not None
        assert await club.available() == 20 + 100  # the refunded order's 10 points go back

    async def test_an_unpaid_order_does_not_count(self, club: Club) -> None:
        await club.publish(_program(REGULAR))
        await club.join()
        now = datetime.now(UTC).replace(microsecond=0)
        await club.order(20, now - timedelta(days=2), "10.00")
        pending = shopify_order(
            21, customer_id=int(CUSTOMER), financial_status="pending", updated_at=now.isoformat()
        )
        await club.deliver("orders/create", pending)
        assert (await club.badges())["regular"]["current"] == 1


class TestEventBadges:
    async def test_the_third_review_completes_the_critic_badge(self, club: Club) -> None:
        await club.publish(_program(
            {"key": "critic", "type": "badge", "names": {"fa": "منتقد"}, "metric": "events",
             "event": "review", "count": 3, "points": 40},
        ))  # fmt: skip
        await club.join()
        for key in ("r1", "survey"):
            await club.event("review" if key == "r1" else "survey", key)
        r = await club.event("review", "r2")
        assert r.json()["badges"] == []
        r = await club.event("review", "r3")
        (badge,) = r.json()["badges"]
        assert (badge["rule"], badge["status"], badge["points"]) == ("critic", "awarded", 40)
        assert "40 points: badge منتقد completed (rule critic, program v2)" in await club.reasons()
        r = await club.event("review", "r4")
        assert r.json()["badges"] == []
        assert await club.available() == 40

    async def test_distinct_days_are_the_shops_local_days(self, club: Club) -> None:
        await club.publish(_program(
            {"key": "streak", "type": "badge", "names": {"en": "Streak"},
             "metric": "distinct_days", "count": 3, "within_days": 7},
        ))  # fmt: skip
        await club.join()
        today = datetime.now(TEHRAN).replace(hour=12, minute=0, second=0, microsecond=0)
        day = today - timedelta(days=5)
        # 23:59 and 00:01 in Tehran: the same day in UTC (20:29, 20:31), two days here.
        late = day.replace(hour=23, minute=59)
        early = late + timedelta(minutes=2)
        assert late.astimezone(UTC).date() == early.astimezone(UTC).date()
        await club.event("visit", "v1", late)
        await club.event("visit", "v2", early)
        streak = (await club.badges())["streak"]
        assert (streak["current"], streak["completed_at"]) == (2, None)
        r = await club.event("visit", "v3", early + timedelta(days=1))
        assert [b["rule"] for b in r.json()["badges"]] == ["streak"]
        streak = (await club.badges())["streak"]
        assert datetime.fromisoformat(streak["completed_at"]) == early + timedelta(days=1)
        assert await club.available() == 0  # a badge without points or a reward


class TestSpendBadge:
    async def test_spend_counts_merchandise_net_of_refunds(self, club: Club) -> None:
        await club.publish(_program(
            {"key": "big", "type": "badge", "names": {"en": "Big spender"}, "metric": "spend",
             "amount_minor": 5000, "points": 10},
        ))  # fmt: skip
        await club.join()
        now = datetime.now(UTC).replace(microsecond=0)
        await club.order(30, now - timedelta(days=2), "30.00")
        await club.deliver("refunds/create", shopify_refund(300, 30, merchandise="5.00"))
        big = (await club.badges())["big"]
        assert (big["current"], big["target"], big["completed_at"]) == (2500, 5000, None)
        await club.order(31, now - timedelta(days=1), "24.99")
        assert (await club.badges())["big"]["current"] == 4999
        await club.order(32, now, "0.01")
        assert (await club.badges())["big"]["completed_at"] is not None
        # 30 - 5 (refund) + 24 + 0 purchase points, and the badge's 10
        assert await club.available() == 25 + 24 + 10
