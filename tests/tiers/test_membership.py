"""The paid VIP membership: a paid order with the membership product puts the member in the
VIP tier until its payment plus the term; a renewal extends from the current end; a refund or
a cancellation of that order, or the end of the term, ends it (back to the tier the member
qualifies for). The membership's price does not qualify as spending."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.connectors.base import OrderLine
from app.program.document import ProgramDocument
from app.tiers.membership import is_membership_line
from tests.tiers.helpers import Club, program, utc

VIP_LINE = 7001
T = utc("2026-02-01T10:00:00Z")


def vip_program(**tiers: Any) -> dict[str, Any]:
    return {
        **program(**tiers),
        "membership": {"skus": ["VIP-30"], "product_ids": ["4242"], "tier": "gold",
                       "term_days": 30},
    }  # fmt: skip


def line(line_id: int, amount: str, **fields: Any) -> dict[str, Any]:
    money = {"amount": amount, "currency_code": "USD"}
    return {"id": line_id, "price": amount, "quantity": 1, "discount_allocations": [],
            "tax_lines": [], "price_set": {"shop_money": money, "presentment_money": money},
            **fields}  # fmt: skip


def vip(line_id: int = VIP_LINE) -> dict[str, Any]:
    return line(line_id, "20.00", sku="VIP-30", product_id=4242)


def iso(at: Any) -> str:
    return str(at.isoformat())


class TestBuying:
    async def test_a_paid_membership_puts_the_member_in_its_tier_for_its_term(
        self, club: Club
    ) -> None:
        await club.publish(vip_program())
        await club.paid(1001, "20.00", iso(T), lines=[vip()])
        member = await club.member()
        assert member["tier"] == "gold"
        assert member["tier_progress"]["tier_until"] == "2026-03-03T10:00:00Z"  # T + 30 days
        assert await club.history() == [(None, "gold", "membership")]
        assert await club.review(T + timedelta(days=30) - timedelta(seconds=1)) == 0
        assert await club.review(T + timedelta(days=30)) == 1
        assert await club.tier() == "bronze"
        assert (await club.history())[-1] == ("gold", "bronze", "membership_ended")

    async def test_a_renewal_extends_from_the_current_end(self, club: Club) -> None:
        await club.publish(vip_program())
        await club.paid(1001, "20.00", iso(T), lines=[vip()])
        await club.paid(1002, "20.00", iso(T + timedelta(days=20)), lines=[vip(7002)])
        member = await club.member()
        assert member["tier_progress"]["tier_until"] == "2026-04-02T10:00:00Z"  # T + 60 days
        assert await club.review(T + timedelta(days=60) - timedelta(seconds=1)) == 0
        assert await club.tier() == "gold"
        assert await club.review(T + timedelta(days=60)) == 1
        assert await club.tier() == "bronze"

    async def test_two_units_buy_two_terms(self, club: Club) -> None:
        await club.publish(vip_program())
        await club.paid(1001, "40.00", iso(T), lines=[{**vip(), "quantity": 2}])
        assert (await club.member())["tier_progress"]["tier_until"] == "2026-04-02T10:00:00Z"

    async def test_when_the_membership_ends_the_member_keeps_what_they_qualify_for(
        self, club: Club
    ) -> None:
        await club.publish(vip_program())
        await club.paid(1001, "150.00", iso(T - timedelta(days=1)))
        assert await club.tier() == "silver"
        await club.paid(1002, "20.00", iso(T), lines=[vip()])
        assert await club.tier() == "gold"
        await club.review(T + timedelta(days=30))
        assert await club.history() == [
            (None, "silver", "qualified"),
            ("silver", "gold", "membership"),
            ("gold", "silver", "membership_ended"),
        ]

    async def test_the_membership_price_does_not_count_as_spending(self, club: Club) -> None:
        await club.publish(vip_program(basis="amount_spent"))
        await club.paid(1001, "25.00", iso(T), lines=[vip(), line(7009, "5.00")])
        member = await club.member()
        assert member["tier_progress"]["qualifying"] == 500  # the 5.00 line only
        assert member["tier"] == "gold"


class TestEnding:
    async def test_refunding_the_renewal_takes_its_term_back(self, club: Club) -> None:
        await club.publish(vip_program())
        await club.paid(1001, "20.00", iso(T), lines=[vip()])
        await club.paid(1002, "20.00", iso(T + timedelta(days=20)), lines=[vip(7002)])
        await club.refund(501, 1002, "20.00", iso(T + timedelta(days=25)), line_item_id=7002)
        member = await club.member()
        assert member["tier"] == "gold"
        assert member["tier_progress"]["tier_until"] == "2026-03-03T10:00:00Z"
        assert await club.review(T + timedelta(days=30)) == 1
        assert await club.tier() == "bronze"

    async def test_refunding_the_only_membership_ends_it_at_once(self, club: Club) -> None:
        await club.publish(vip_program())
        await club.paid(1001, "20.00", iso(T), lines=[vip()])
        await club.refund(501, 1001, "20.00", iso(T + timedelta(days=2)), line_item_id=VIP_LINE)
        assert await club.tier() == "bronze"
        assert (await club.history())[-1] == ("gold", "bronze", "membership_ended")

    async def test_refunding_another_line_keeps_the_membership(self, club: Club) -> None:
        await club.publish(vip_program())
        await club.paid(1001, "25.00", iso(T), lines=[vip(), line(7009, "5.00")])
        await club.refund(501, 1001, "5.00", iso(T + timedelta(days=2)), line_item_id=7009)
        assert await club.tier() == "gold"

    async def test_a_cancelled_membership_order_ends_it(self, club: Club) -> None:
        await club.publish(vip_program())
        order = await club.paid(1001, "20.00", iso(T), lines=[vip()])
        order["cancelled_at"] = order["updated_at"] = iso(T + timedelta(days=1))
        await club.deliver("orders/cancelled", order)
        await club.process(T + timedelta(days=1, minutes=1))
        assert await club.tier() == "bronze"


class TestMembershipLines:
    def test_a_line_is_the_membership_by_sku_or_product_id(self) -> None:
        document = ProgramDocument.model_validate(vip_program())
        by_sku = OrderLine("1", "9", None, "VIP-30", 1, 2000)
        by_product = OrderLine("2", "4242", None, None, 1, 2000)
        other = OrderLine("3", "9", None, "MUG", 1, 2000)
        assert is_membership_line(document, by_sku)
        assert is_membership_line(document, by_product)
        assert not is_membership_line(document, other)
        assert not is_membership_line(ProgramDocument.model_validate(program()), by_sku)
