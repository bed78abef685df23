"""Tier windows at their edges, in the shop's time zone (Asia/Tehran, UTC+03:30): a calendar
and a Jalali year start at local midnight, a rolling window lets an order go a year later to
the minute; a member moves down only at the end of the period, after the grace days; a refund
follows the program's ``on_refund``."""

from __future__ import annotations

from datetime import timedelta

from tests.payloads import shopify_order
from tests.tiers.helpers import Club, program, utc

TEHRAN = "Asia/Tehran"


class TestCalendarYear:
    async def test_the_year_ends_at_midnight_in_the_shops_time_zone(self, club: Club) -> None:
        await club.publish({**program(window="calendar_year"), "timezone": TEHRAN})
        await club.paid(1001, "60.00", "2025-12-31T23:59:00+03:30")
        member = await club.member()
        assert member["tier_progress"]["window_ends_at"] == "2025-12-31T20:30:00Z"
        # 00:01 in Tehran is still 2025 in UTC, but the next year for the shop.
        await club.paid(1002, "60.00", "2026-01-01T00:01:00+03:30")
        member = await club.member()
        assert member["tier"] == "bronze"
        assert member["tier_progress"]["qualifying"] == 60
        assert member["tier_progress"]["window_ends_at"] == "2026-12-31T20:30:00Z"

    async def test_two_orders_before_midnight_count_together(self, club: Club) -> None:
        await club.publish({**program(window="calendar_year"), "timezone": TEHRAN})
        await club.paid(1001, "60.00", "2025-12-31T23:58:00+03:30")
        await club.paid(1002, "60.00", "2025-12-31T23:59:00+03:30")
        assert await club.tier() == "silver"

    async def test_an_order_processed_after_new_year_still_counts_for_its_year(
        self, club: Club
    ) -> None:
        await club.publish({**program(window="calendar_year"), "timezone": TEHRAN})
        await club.paid(1001, "60.00", "2025-12-31T23:58:00+03:30")
        late = utc("2026-01-01T09:00:00+03:30")
        await club.paid(1002, "60.00", "2025-12-31T23:59:00+03:30", process_at=late)
        member = await club.member()
        assert member["tier"] == "silver"  # 2025's qualification, kept through 2026
        assert member["tier_progress"]["tier_until"] == "2026-12-31T20:30:00Z"


class TestJalaliYear:
    # 1404/12/29 is 2026-03-20, the last day of 1404; 1405/01/01 is 2026-03-21.
    async def test_the_jalali_year_ends_at_nowruz_midnight_local(self, club: Club) -> None:
        await club.publish({**program(window="jalali_year"), "timezone": TEHRAN})
        await club.paid(1001, "60.00", "2026-03-20T23:59:00+03:30")
        assert (await club.member())["tier_progress"]["window_ends_at"] == "2026-03-20T20:30:00Z"
        await club.paid(1002, "60.00", "2026-03-21T00:01:00+03:30")
        member = await club.member()
        assert member["tier"] == "bronze"
        assert member["tier_progress"]["window_ends_at"] == "2027-03-20T20:30:00Z"

    async def test_the_same_orders_in_one_calendar_year_qualify(self, club: Club) -> None:
        await club.publish({**program(window="calendar_year"), "timezone": TEHRAN})
        await club.paid(1001, "60.00", "2026-03-20T23:59:00+03:30")
        await club.paid(1002, "60.00", "2026-03-21T00:01:00+03:30")
        assert await club.tier() == "silver"

    async def test_a_jalali_years_qualification_lasts_through_the_next_one(
        self, club: Club
    ) -> None:
        await club.publish({**program(window="jalali_year", grace_days=5), "timezone": TEHRAN})
        await club.paid(1001, "150.00", "2026-03-20T23:59:00+03:30")  # in 1404
        assert await club.tier() == "silver"
        # The end of 1405 (2027-03-21 00:00 local) plus 5 days.
        end = utc("2027-03-26T00:00:00+03:30")
        assert (await club.member())["tier_progress"]["tier_until"] == "2027-03-25T20:30:00Z"
        assert await club.review(end - timedelta(seconds=1)) == 0
        assert await club.tier() == "silver"
        assert await club.review(end) == 1
        assert await club.tier() == "bronze"


class TestRollingTwelveMonths:
    async def test_an_order_leaves_the_window_a_year_later_to_the_minute(self, club: Club) -> None:
        await club.publish({**program(window="rolling_12_months"), "timezone": TEHRAN})
        await club.paid(1001, "150.00", "2025-03-10T12:00:00+03:30")
        assert await club.tier() == "silver"
        leaves = utc("2026-03-10T12:00:00+03:30")
        assert (await club.member())["tier_progress"]["tier_until"] == "2026-03-10T08:30:00Z"
        assert await club.review(leaves - timedelta(minutes=1)) == 0
        assert await club.review(leaves) == 1
        assert await club.history() == [(None, "silver", "qualified"), ("silver", "bronze",
                                                                       "period_end")]  # fmt: skip

    async def test_the_member_moves_down_when_the_window_falls_below_plus_grace(
        self, club: Club
    ) -> None:
        document = program(window="rolling_12_months", grace_days=10)
        await club.publish({**document, "timezone": TEHRAN})
        await club.paid(1001, "60.00", "2025-03-10T12:00:00+03:30")
        await club.paid(1002, "60.00", "2025-09-01T12:00:00+03:30")
        assert await club.tier() == "silver"  # 120 in the last 12 months
        # The first order leaves on 2026-03-10 (60 left): silver for 10 days more.
        falls = utc("2026-03-10T12:00:00+03:30")
        assert (await club.member())["tier_progress"]["tier_until"] == "2026-03-20T08:30:00Z"
        assert await club.review(falls + timedelta(days=10) - timedelta(seconds=1)) == 0
        assert await club.tier() == "silver"
        assert await club.review(falls + timedelta(days=10)) == 1
        assert await club.tier() == "bronze"

    async def test_a_new_order_in_the_window_keeps_the_tier(self, club: Club) -> None:
        await club.publish({**program(window="rolling_12_months"), "timezone": TEHRAN})
        await club.paid(1001, "150.00", "2025-03-10T12:00:00+03:30")
        await club.paid(1002, "100.00", "2026-03-01T12:00:00+03:30")
        assert await club.review(utc("2026-03-10T12:00:00+03:30")) == 0
        assert await club.tier() == "silver"
        assert (await club.member())["tier_progress"]["tier_until"] == "2027-03-01T08:30:00Z"


class TestDowngradeAtPeriodEnd:
    async def test_a_tier_reached_in_a_year_lasts_through_the_next_plus_grace(
        self, club: Club
    ) -> None:
        await club.publish({**program(window="calendar_year", grace_days=30), "timezone": TEHRAN})
        await club.paid(1001, "600.00", "2025-06-01T12:00:00+03:30")
        assert await club.tier() == "gold"
        # Reviewed at the end of 2025: 2025 qualifies, nothing changes.
        assert await club.review(utc("2026-02-01T00:00:00+03:30")) == 0
        # 2026 had 150 points: silver from the end of 2026 plus 30 days.
        await club.paid(1002, "150.00", "2026-05-01T12:00:00+03:30")
        end = utc("2027-01-31T00:00:00+03:30")
        assert await club.review(end - timedelta(seconds=1)) == 0
        assert await club.tier() == "gold"
        assert await club.review(end) == 1
        member = await club.member()
        assert member["tier"] == "silver"
        # 2026's silver lasts through 2027 and its grace.
        assert member["tier_progress"]["tier_until"] == "2028-01-30T20:30:00Z"
        assert await club.history() == [
            (None, "gold", "qualified"),
            ("gold", "silver", "period_end"),
        ]

    async def test_lifetime_tiers_never_move_down_with_time(self, club: Club) -> None:
        await club.publish(program(window="lifetime"))
        await club.paid(1001, "600.00", "2025-06-01T12:00:00Z")
        assert await club.review(utc("2035-01-01T00:00:00Z")) == 0
        assert await club.tier() == "gold"


class TestRefunds:
    async def test_downgrade_now_moves_down_at_the_refund(self, club: Club) -> None:
        await club.publish(program(window="calendar_year", on_refund="downgrade_now"))
        await club.paid(1001, "150.00", "2026-02-01T10:00:00Z")
        await club.refund(501, 1001, "100.00", "2026-03-01T10:00:00Z")
        assert await club.tier() == "bronze"
        assert await club.history() == [(None, "silver", "qualified"), ("silver", "bronze",
                                                                       "refund")]  # fmt: skip

    async def test_keep_until_period_end_keeps_the_tier_to_the_end_of_the_year(
        self, club: Club
    ) -> None:
        await club.publish(program(window="calendar_year", on_refund="keep_until_period_end"))
        await club.paid(1001, "150.00", "2026-02-01T10:00:00Z")
        assert (await club.member())["tier_progress"]["tier_until"] == "2028-01-01T00:00:00Z"
        await club.refund(501, 1001, "100.00", "2026-03-01T10:00:00Z")
        member = await club.member()
        assert member["tier"] == "silver"
        # No longer through 2027: the refunded year's review takes it.
        assert member["tier_progress"]["tier_until"] == "2027-01-01T00:00:00Z"
        assert await club.review(utc("2026-12-31T23:59:59Z")) == 0
        assert await club.review(utc("2027-01-01T00:00:00Z")) == 1
        assert await club.history() == [(None, "silver", "qualified"), ("silver", "bronze",
                                                                       "period_end")]  # fmt: skip

    async def test_a_cancellation_is_a_refund_of_everything(self, club: Club) -> None:
        await club.publish(program(on_refund="downgrade_now"))
        await club.paid(1001, "600.00", "2026-02-01T10:00:00Z")
        assert await club.tier() == "gold"
        cancelled = shopify_order(
            1001, merchandise="600.00", updated_at="2026-02-02T10:00:00Z",
            cancelled_at="2026-02-02T10:00:00Z",
        )  # fmt: skip
        cancelled["processed_at"] = "2026-02-01T10:00:00Z"
        await club.deliver("orders/cancelled", cancelled)
        await club.process(utc("2026-02-02T10:01:00Z"))
        assert await club.tier() == "bronze"
