"""Order lines, refunded lines and discount codes, as both connectors read them from the
platforms' own sample payloads."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.connectors.base import OrderLine, OrderSnapshot, RefundLine, RefundSnapshot
from app.connectors.shopify import ShopifyConnector
from app.connectors.woocommerce import WooCommerceConnector

FIXTURES = Path(__file__).parent.parent / "fixtures"
SHOPIFY = ShopifyConnector()
WOO = WooCommerceConnector()


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def shopify_order(payload: Any) -> OrderSnapshot:
    [snap] = SHOPIFY.parse("orders/updated", payload, {})
    assert isinstance(snap, OrderSnapshot)
    return snap


def woo_order(payload: Any) -> OrderSnapshot:
    [snap] = WOO.parse("order.updated", payload, {})
    assert isinstance(snap, OrderSnapshot)
    return snap


ORDER_FIXTURES = [
    ("shopify", "shopify/orders-create.json"),
    ("shopify", "shopify/order-with-refund.json"),
    ("woocommerce", "woocommerce/order.json"),
    ("woocommerce", "woocommerce/order-with-refund.json"),
]


def parse_fixture(platform: str, name: str, **changes: Any) -> OrderSnapshot:
    payload = load(name)
    payload.update(changes)
    return shopify_order(payload) if platform == "shopify" else woo_order(payload)


class TestLinesAddUpToTheOrder:
    @pytest.mark.parametrize(("platform", "name"), ORDER_FIXTURES)
    def test_line_merchandise_sums_to_the_order_merchandise(self, platform: str, name: str) -> None:
        order = parse_fixture(platform, name)
        assert len(order.lines) == len(load(name)["line_items"]) > 0
        assert sum(line.merchandise_minor for line in order.lines) == order.merchandise_minor

    @pytest.mark.parametrize(
        "name", ["shopify/orders-create.json", "shopify/order-with-refund.json"]
    )
    def test_and_so_do_they_when_prices_include_tax(self, name: str) -> None:
        order = parse_fixture("shopify", name, taxes_included=True)
        assert sum(line.merchandise_minor for line in order.lines) == order.merchandise_minor

    def test_refund_lines_sum_to_the_refund(self) -> None:
        embedded = shopify_order(load("shopify/order-with-refund.json")).refunds
        [created] = SHOPIFY.parse("refunds/create", load("shopify/refunds-create.json"), {})
        assert isinstance(created, RefundSnapshot)
        for refund in (*embedded, created):
            assert refund.lines
            assert sum(line.merchandise_minor for line in refund.lines) == refund.merchandise_minor


class TestShopifyLines:
    def test_the_sample_order_lines(self) -> None:
        order = shopify_order(load("shopify/orders-create.json"))
        assert order.lines == (
            OrderLine(
                line_id="1071823193",
                product_id="921728736",
                variant_id="447654529",
                sku="IPOD2009BLACK",
                quantity=1,
                merchandise_minor=18109,  # 199.00 less its 17.91 share of FAKE30
                gift_card=False,
            ),
        )
        assert order.discount_codes == ("FAKE30",)

    def test_discount_allocations_are_taken_from_their_own_line(self) -> None:
        order = shopify_order(load("shopify/order-with-refund.json"))
        # three 199.00 lines; TENOFF's 10.00 allocated 3.34 + 3.33 + 3.33
        assert [line.merchandise_minor for line in order.lines] == [19566, 19567, 19567]
        assert [line.sku for line in order.lines] == [
            "IPOD2008GREEN",
            "IPOD2008RED",
            "IPOD2008BLACK",
        ]
        assert order.discount_codes == ("TENOFF",)

    def test_refunded_lines_name_the_order_line(self) -> None:
        [refund] = shopify_order(load("shopify/order-with-refund.json")).refunds
        assert refund.lines == (
            RefundLine(line_id="703073504", quantity=1, merchandise_minor=19566),
            RefundLine(line_id="466157049", quantity=1, merchandise_minor=19567),
        )

    def test_a_gift_card_line_is_kept_but_counts_no_merchandise(self) -> None:
        payload = load("shopify/orders-create.json")
        gift = copy.deepcopy(payload["line_items"][0])
        gift.update(id=55, gift_card=True, price="50.00", discount_allocations=[], quantity=2)
        gift["price_set"] = {"shop_money": {"amount": "50.00", "currency_code": "USD"}}
        payload["line_items"].append(gift)
        order = shopify_order(payload)
        assert order.lines[1] == OrderLine(
            "55", "921728736", "447654529", "IPOD2009BLACK", 2, 0, True
        )
        assert order.merchandise_minor == 18109

    def test_a_line_discounted_below_zero_counts_zero_not_against_the_others(self) -> None:
        payload = load("shopify/order-with-refund.json")
        allocation = payload["line_items"][0]["discount_allocations"][0]
        allocation["amount"] = "250.00"
        allocation["amount_set"]["shop_money"]["amount"] = "250.00"
        order = shopify_order(payload)
        assert [line.merchandise_minor for line in order.lines] == [0, 19567, 19567]
        assert order.merchandise_minor == 39134

    def test_no_discount_codes_reads_as_none(self) -> None:
        payload = load("shopify/orders-create.json")
        payload["discount_codes"] = []
        assert shopify_order(payload).discount_codes == ()
        del payload["discount_codes"]
        assert shopify_order(payload).discount_codes == ()


class TestWooCommerceLines:
    def test_the_sample_order_lines(self) -> None:
        order = woo_order(load("woocommerce/order.json"))
        assert order.lines == (
            OrderLine("315", "93", None, None, 2, 600),  # a simple product: variation_id 0
            OrderLine("316", "22", "23", "Bar3", 1, 1200),
        )
        assert order.discount_codes == ()

    def test_coupon_lines_give_the_codes_used(self) -> None:
        payload = load("woocommerce/order.json")
        payload["coupon_lines"] = [
            {"id": 321, "code": "vafa-5off", "discount": "5.00", "discount_tax": "0.00"},
            {"id": 322, "code": "summer", "discount": "1.00", "discount_tax": "0.00"},
        ]
        assert woo_order(payload).discount_codes == ("vafa-5off", "summer")

    def test_refunds_from_the_order_body_have_no_lines(self) -> None:
        # The order body gives each refund as a total only; its lines are not in it.
        refunds = woo_order(load("woocommerce/order-with-refund.json")).refunds
        assert [r.refund_id for r in refunds] == ["726", "724"]
        assert all(r.lines == () for r in refunds)


class TestWooCommerceQuantities:
    def test_a_fractional_quantity_from_a_plugin_is_counted_in_whole_units(self) -> None:
        payload = load("woocommerce/order.json")
        payload["line_items"][0]["quantity"] = 1.5  # sold by weight
        order = woo_order(payload)
        assert (order.lines[0].quantity, order.lines[0].merchandise_minor) == (1, 600)
        assert order.merchandise_minor == 1800

    def test_a_negative_or_absurd_quantity_is_still_refused(self) -> None:
        from app.errors import InvalidPayload

        for quantity in (-1.5, 1.8e19, "2"):
            payload = load("woocommerce/order.json")
            payload["line_items"][0]["quantity"] = quantity
            with pytest.raises(InvalidPayload, match=r"order\.line_items\[0\]\.quantity"):
                woo_order(payload)
