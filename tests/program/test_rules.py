"""Each order rule at its edges, in the pure engine (no database): purchase points and their
rounding, shipping and tax, the minimum, line multipliers and exclusions; time frames, caps
per member and per period in the shop's time zone, spend goals, first and n-th orders. And a
cap at the shop's midnight, driven by webhooks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.connectors.base import FinancialState, OrderLine
from app.program import lines
from app.program.document import ProgramDocument
from app.program.engine import Prior, Program
from app.program.periods import jalali_year, nowruz, period_of
from app.program.reconcile import OrderState
from app.program.versions import BEGINNING, Version
from app.state import AppState
from tests.conftest import ShopifyShop
from tests.program.club import Club, paid_shopify_order

PAID = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def order(**changes: Any) -> OrderState:
    state = OrderState(
        id=1, order_id="42", known=True, name="#42", customer_id="c1", currency="USD",
        exponent=2, merchandise_minor=10_000, shipping_minor=0, tax_minor=0,
        financial_state=FinancialState.PAID.value, cancelled=False, deleted=False,
        paid_at=PAID, release_at=None, source_updated_at=PAID, lines=None,
        discount_codes=None, member_seq=1,
    )  # fmt: skip
    return replace(state, **changes)


def program(*rules: dict[str, Any], **fields: Any) -> Program:
    document = ProgramDocument.model_validate({"rules": list(rules), **fields})
    return Program(Version(4, BEGINNING, document))


def earned(p: Program, state: OrderState) -> list[tuple[str, int]]:
    """(rule key or tier segment, points) of each award, for the rules the order meets."""
    decided = p.decide(state, state.paid_at or PAID, state.member_seq or 1, state.tier, [])
    return [(a.segment or "purchase", a.points) for a in p.awards(state, decided)]


def purchase(**fields: Any) -> dict[str, Any]:
    return {"key": "purchase", "type": "purchase", "points": 1, **fields}


class TestPurchase:
    @pytest.mark.parametrize(
        ("minor", "rounding", "points"),
        [
            # 50 for every whole 500,000: the number of blocks is what is rounded
            (749_999, "down", 50), (749_999, "nearest", 50), (749_999, "up", 100),
            (750_000, "down", 50), (750_000, "nearest", 100), (750_000, "up", 100),
            (1_000_000, "down", 100), (1_000_000, "up", 100),
            (499_999, "down", 0), (499_999, "nearest", 50), (499_999, "up", 50),
        ],
    )  # fmt: skip
    def test_points_for_every_whole_block_rounded_once_per_order(
        self, minor: int, rounding: str, points: int
    ) -> None:
        p = program(purchase(points=50, per_minor=500_000, rounding=rounding))
        state = order(currency="IRT", exponent=0, merchandise_minor=minor)
        assert earned(p, state) == [("purchase", points)]

    def test_per_units_is_the_exact_points_per_unit_of_any_exponent(self) -> None:
        p = program(purchase(points=1, per_units=10))
        assert earned(p, order(merchandise_minor=18_109)) == [("purchase", 18)]  # 181.09 $
        assert earned(p, order(currency="IRT", exponent=0, merchandise_minor=95)) == [
            ("purchase", 9)]  # fmt: skip
        # 2.5 points per unit (a points_per_unit setting): ⌊181.60 × 2.5⌋ = 454, as always
        assert earned(program(purchase(points=5, per_units=2)),
                      order(merchandise_minor=18_160)) == [("purchase", 454)]  # fmt: skip

    def test_shipping_and_tax_only_when_the_rule_includes_them(self) -> None:
        state = order(merchandise_minor=10_000, shipping_minor=2_000, tax_minor=900)
        assert earned(program(purchase()), state) == [("purchase", 100)]
        assert earned(program(purchase(include_shipping=True)), state) == [("purchase", 120)]
        both = program(purchase(include_shipping=True, include_tax=True))
        assert earned(both, state) == [("purchase", 129)]
        [award] = both.awards(state, ["purchase"])
        assert award.why == ("129.00 USD spent on order #42 (shipping and tax included) "
                             "(rule purchase, program v4)")  # fmt: skip

    def test_the_minimum_order_at_its_edge(self) -> None:
        p = program(purchase(min_order_minor=10_000))
        assert earned(p, order(merchandise_minor=10_000)) == [("purchase", 100)]
        assert earned(p, order(merchandise_minor=9_999)) == [("purchase", 0)]
        [award] = p.awards(order(merchandise_minor=9_999), ["purchase"])
        assert "below the 100.00 USD minimum" in award.why

    def test_line_multipliers_and_exclusions(self) -> None:
        stored = lines.to_json([
            OrderLine("1", "p1", None, None, 1, 10_000),
            OrderLine("2", "p2", None, "GIFTWRAP", 1, 5_000),
            OrderLine("3", "p3", "v9", None, 1, 3_000),
            OrderLine("4", "p4", None, None, 1, 2_000),
        ])  # fmt: skip
        p = program(purchase(
            multipliers=[{"match": {"product_ids": ["p1"]}, "multiplier": "2"},
                         {"match": {"variant_ids": ["v9"]}, "multiplier": "0.5"}],
            exclusions=[{"skus": ["GIFTWRAP"]}, {"collections": ["sale"]}],
        ))  # fmt: skip
        state = order(merchandise_minor=20_000, lines=stored)
        # 100 × 2 + 0 + 30 × 0.5 + 20 = 235 (a collection names nothing on an order line)
        assert earned(p, state) == [("purchase", 235)]
        [award] = p.awards(state, ["purchase"])
        assert "235.00 USD counted after the rule's product multipliers and exclusions" in (
            award.why
        )
        # A paid membership's product earns no purchase points.
        vip = program(purchase(), tiers={"levels": [
            {"key": "member", "threshold": 0, "names": {"en": "Member"}},
            {"key": "vip", "threshold": 10**9, "names": {"en": "VIP"}}]},
            membership={"skus": ["GIFTWRAP"], "tier": "vip", "term_days": 365})  # fmt: skip
        assert earned(vip, state) == [("purchase", 150)]
        # An order stored before lines were kept counts its whole merchandise.
        assert earned(p, order(merchandise_minor=20_000, lines=None)) == [("purchase", 200)]


class TestTimeFramesAndCaps:
    def test_a_time_frame_starts_at_its_start_and_ends_before_its_end(self) -> None:
        p = program(purchase(starts_at="2027-03-01T00:00:00Z", ends_at="2027-04-01T00:00:00Z"))
        start, end = datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)
        tick = timedelta(microseconds=1)
        for at, meets in ((start - tick, False), (start, True), (end - tick, True), (end, False)):
            assert (p.decide(order(), at, 1, None, []) == ["purchase"]) is meets, at

    def test_max_per_member(self) -> None:
        p = program({"key": "bonus", "type": "nth_order", "every": 2, "points": 5,
                     "max_per_member": 2})  # fmt: skip
        got = [Prior(PAID, ("bonus",), 100, True)]
        assert p.decide(order(), PAID, 4, None, got) == ["bonus"]
        assert p.decide(order(), PAID, 6, None, got * 2) == []
        # an order that earned the bonus and was cancelled still counts
        assert p.decide(order(), PAID, 6, None, [got[0], replace(got[0], earning=False)]) == []

    def test_max_per_period_in_the_shops_time_zone(self) -> None:
        p = program(
            {"key": "daily", "type": "campaign", "bonus": 10, "max_per_period":
             {"unit": "day", "count": 1}, "starts_at": "2027-01-01T00:00:00Z",
             "ends_at": "2028-01-01T00:00:00Z"},
            timezone="Asia/Tehran",
        )  # fmt: skip
        # Tehran is UTC+03:30: its 1 March ends at 20:29:59.999999 UTC.
        first = Prior(datetime(2027, 3, 1, 0, 0, tzinfo=UTC), ("daily",), 100, True)
        last_second = datetime(2027, 3, 1, 20, 29, 59, tzinfo=UTC)
        midnight = datetime(2027, 3, 1, 20, 30, tzinfo=UTC)
        assert p.decide(order(), last_second, 2, None, [first]) == []
        assert p.decide(order(), midnight, 2, None, [first]) == ["daily"]

    def test_first_and_nth_orders(self) -> None:
        p = program({"key": "welcome", "type": "first_order", "points": 50},
                    {"key": "third", "type": "nth_order", "every": 3, "points": 30})  # fmt: skip
        assert [p.decide(order(), PAID, n, None, []) for n in range(1, 7)] == [
            ["welcome"], [], ["third"], [], [], ["third"]]  # fmt: skip
        state = order(member_seq=3)
        [award] = p.awards(state, ["third"])
        assert award.why == ("order #42 is the member's 3rd paid order (every 3rd earns) "
                             "(rule third, program v4)")  # fmt: skip

    def test_an_inactive_rule_and_a_segments_campaign_do_not_apply(self) -> None:
        p = program(
            purchase(active=False),
            {"key": "vip", "type": "campaign", "bonus": 5, "segment": "vip",
             "starts_at": "2027-01-01T00:00:00Z", "ends_at": "2028-01-01T00:00:00Z"},
        )  # fmt: skip
        assert p.decide(order(), PAID, 1, None, []) == []


class TestSpendGoals:
    GOAL = {"key": "goal", "type": "spend_goal", "amount_minor": 100_000, "points": 40}

    def test_the_order_that_crosses_the_goal_reaches_it_once_a_month(self) -> None:
        p = program({**self.GOAL, "period": "month"}, timezone="Asia/Tehran")
        march = [Prior(datetime(2027, 3, 2, tzinfo=UTC), (), 60_000, True)]
        assert p.decide(order(merchandise_minor=39_999), PAID, 2, None, march) == []
        assert p.decide(order(merchandise_minor=40_000), PAID, 2, None, march) == ["goal"]
        reached = [*march, Prior(PAID, ("goal",), 40_000, True)]
        assert p.decide(order(merchandise_minor=99_999), PAID, 3, None, reached) == []
        # a cancelled order's spend does not count; a February order is another month
        cancelled = [replace(march[0], earning=False)]
        assert p.decide(order(merchandise_minor=40_000), PAID, 2, None, cancelled) == []
        february = [Prior(datetime(2027, 2, 28, 20, 29, tzinfo=UTC), (), 60_000, True)]
        assert p.decide(order(merchandise_minor=40_000), PAID, 2, None, february) == []

    def test_a_jalali_year_starts_at_nowruz_in_tehran(self) -> None:
        p = program({**self.GOAL, "period": "jalali_year"}, timezone="Asia/Tehran")
        # Nowruz 1406 is 21 March 2027: 20 March 20:30 UTC in Tehran.
        esfand = Prior(datetime(2027, 3, 20, 20, 29, tzinfo=UTC), (), 60_000, True)
        farvardin = datetime(2027, 3, 20, 20, 30, tzinfo=UTC)
        assert p.decide(order(merchandise_minor=40_000), farvardin, 2, None, [esfand]) == []
        same_year = replace(esfand, at=farvardin)
        assert p.decide(order(merchandise_minor=40_000), farvardin, 2, None, [same_year]) == [
            "goal"]  # fmt: skip

    def test_periods(self) -> None:
        assert [nowruz(y) for y in (1402, 1403, 1404, 1406)] == [
            date(2023, 3, 21), date(2024, 3, 20), date(2025, 3, 21), date(2027, 3, 21)]  # fmt: skip
        assert (jalali_year(date(2025, 3, 20)), jalali_year(date(2025, 3, 21))) == (1403, 1404)
        at = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)
        assert period_of("year", at, "UTC") == date(2027, 1, 1)
        assert period_of("year", at, "America/New_York") == date(2026, 1, 1)
        assert period_of("lifetime", at, "UTC") is None


async def test_a_daily_cap_at_the_shops_midnight_through_webhooks(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    club = Club(client, state, shopify_shop)
    await club.set({"timezone": "Asia/Tehran", "rules": [
        purchase(),
        {"key": "daily", "type": "campaign", "bonus": 10,
         "max_per_period": {"unit": "day", "count": 1},
         "starts_at": "2027-01-01T00:00:00Z", "ends_at": "2028-01-01T00:00:00Z"},
    ]})  # fmt: skip
    for order_id, paid in ((501, "2027-03-01T06:00:00Z"), (502, "2027-03-01T20:29:59Z"),
                           (503, "2027-03-01T20:30:00Z")):  # fmt: skip
        await club.deliver("orders/paid", paid_shopify_order(order_id, "1.00", paid))
    lines_ = await club.lines(1073339475)
    bonuses = [reason for points, reason in lines_ if "campaign" in reason]
    assert len(bonuses) == 2
    assert "#501" in bonuses[0]
    assert "#503" in bonuses[1]  # the next day in Tehran
    assert (await club.points(1073339475))["available"] == 3 + 20
