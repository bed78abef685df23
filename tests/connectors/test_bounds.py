"""Bad input is refused when the body is parsed, with a reason an operator can act on: amounts
that cannot be negative, amounts past the sanity maximum, and anything the database would
refuse (a long id, a four-letter currency, NUL, an integer past 64 bits)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from app.connectors.base import OrderSnapshot, Platform
from app.connectors.registry import parse_body
from app.errors import InvalidPayload
from app.limits import MAX_AMOUNT_MINOR
from tests.payloads import dumps, shopify_order, shopify_refund, woo_order


def refused(platform: Platform, topic: str, payload: dict[str, Any] | bytes) -> str:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    with pytest.raises(InvalidPayload) as exc_info:
        parse_body(platform, topic, body, {})
    return exc_info.value.message


def shopify(topic: str, payload: dict[str, Any] | bytes) -> str:
    return refused(Platform.SHOPIFY, topic, payload)


def woo(payload: dict[str, Any] | bytes, topic: str = "order.updated") -> str:
    return refused(Platform.WOOCOMMERCE, topic, payload)


class TestAmountsThatCannotBeNegative:
    def test_a_negative_refund_line_subtotal_is_refused(self) -> None:
        refund = shopify_refund(501, 9001, merchandise="-999999.99")
        message = shopify("refunds/create", refund)
        assert message == (
            "refund.refund_line_items[0].subtotal_set.shop_money.amount: '-999999.99' is "
            "negative, which it cannot be"
        )

    def test_a_negative_refund_line_inside_an_order_is_refused(self) -> None:
        order = shopify_order(9001, refunds=[shopify_refund(501, 9001, merchandise="-5.00")])
        assert "order.refunds[0].refund_line_items[0].subtotal" in shopify("orders/updated", order)

    def test_a_negative_discount_allocation_is_refused(self) -> None:
        order = shopify_order(9001, merchandise="199.00")
        order["line_items"][0]["discount_allocations"] = [
            {"amount": "-500.00", "amount_set": {"shop_money": {"amount": "-500.00"}}}
        ]
        assert shopify("orders/paid", order) == (
            "order.line_items[0].discount_allocations[0].amount_set.shop_money.amount: "
            "'-500.00' is negative, which it cannot be"
        )

    def test_a_negative_line_price_is_refused(self) -> None:
        assert "is negative" in shopify("orders/paid", shopify_order(9001, merchandise="-10.00"))

    def test_a_negative_line_tax_is_refused_where_prices_include_it(self) -> None:
        order = shopify_order(9001, merchandise="100.00")
        order["taxes_included"] = True
        order["line_items"][0]["tax_lines"] = [{"price": "-30.00"}]
        assert "tax_lines[0].price" in shopify("orders/paid", order)

    def test_a_negative_quantity_is_refused(self) -> None:
        order = shopify_order(9001)
        order["line_items"][0]["quantity"] = -3
        assert shopify("orders/paid", order) == (
            "order.line_items[0].quantity: -3 is not a whole number"
        )

    def test_a_negative_refunded_quantity_is_refused(self) -> None:
        refund = shopify_refund(501, 9001, merchandise="5.00")
        refund["refund_line_items"][0]["quantity"] = -1
        assert "refund_line_items[0].quantity" in shopify("refunds/create", refund)

    def test_a_negative_woocommerce_line_total_is_refused(self) -> None:
        message = woo(woo_order(723, lines=("9.00", "-20.00")))
        assert message == "order.line_items[1].total: '-20.00' is negative, which it cannot be"

    def test_negative_shipping_or_tax_is_refused(self) -> None:
        order = woo_order(723)
        order["shipping_total"] = "-4.00"
        assert "order.shipping_total" in woo(order)
        order = shopify_order(9001)
        order["total_tax"] = "-1.00"
        order.pop("total_tax_set", None)
        assert "order.total_tax" in shopify("orders/paid", order)

    def test_woocommerce_refund_totals_are_negative_and_still_read(self) -> None:
        [snap] = parse_body(
            Platform.WOOCOMMERCE,
            "order.updated",
            dumps(woo_order(723, refunds=[(726, "-10.00")])),
            {},
        )
        assert isinstance(snap, OrderSnapshot)
        assert snap.refunds[0].merchandise_minor == 743  # 29.00 × 10.00 / 39.00


class TestAmountsPastTheSanityMaximum:
    def test_a_woocommerce_line_total_of_a_hundred_trillion_is_refused(self) -> None:
        message = woo(woo_order(723, lines=("123456789012345.6789",)))
        assert message == (
            "order.line_items[0].total: '123456789012345.6789' is beyond the amounts Vafa accepts"
        )

    def test_a_shopify_price_of_a_hundred_trillion_is_refused(self) -> None:
        order = shopify_order(9001, merchandise="123456789012345.6789")
        assert "is beyond the amounts Vafa accepts" in shopify("orders/paid", order)

    def test_price_times_quantity_past_the_maximum_is_refused(self) -> None:
        order = shopify_order(9001, merchandise="1000000.00")
        order["line_items"][0]["quantity"] = 10**9
        assert shopify("orders/paid", order) == (
            "order.line_items[0]: price × quantity is beyond the amounts Vafa accepts"
        )

    def test_lines_adding_up_past_the_maximum_are_refused(self) -> None:
        just_below = f"{MAX_AMOUNT_MINOR // 100}.00"
        message = woo(woo_order(723, lines=(just_below, just_below)))
        assert message == "order.line_items add up to more merchandise than Vafa accepts"

    def test_an_amount_at_the_maximum_is_accepted(self) -> None:
        at_max = f"{MAX_AMOUNT_MINOR // 100}.00"
        [snap] = parse_body(
            Platform.WOOCOMMERCE, "order.updated", dumps(woo_order(723, lines=(at_max,))), {}
        )
        assert isinstance(snap, OrderSnapshot)
        assert snap.merchandise_minor == MAX_AMOUNT_MINOR


class TestWhatTheDatabaseWouldRefuse:
    def test_an_order_id_over_64_characters_is_refused(self) -> None:
        order = woo_order(723)
        order["id"] = "9" * 65
        assert woo(order) == "order.id is 65 characters long, more than 64"

    def test_a_customer_id_over_64_characters_is_refused(self) -> None:
        order = shopify_order(9001)
        order["customer"]["id"] = "c" * 100
        assert shopify("orders/paid", order) == (
            "order.customer.id is 100 characters long, more than 64"
        )

    def test_a_refund_id_over_64_characters_is_refused(self) -> None:
        refund = shopify_refund(501, 9001, merchandise="5.00")
        refund["id"] = "r" * 65
        assert shopify("refunds/create", refund) == "refund.id is 65 characters long, more than 64"

    def test_a_four_letter_currency_is_refused(self) -> None:
        order = shopify_order(9001)
        order["currency"] = "USDX"
        assert shopify("orders/paid", order) == (
            "order.currency: 'USDX' is not a three-letter currency code"
        )
        assert "three-letter currency" in woo({**woo_order(723), "currency": "EURO"})

    def test_an_order_name_over_64_characters_is_refused(self) -> None:
        order = shopify_order(9001)
        order["name"] = "#" + "1" * 64
        assert shopify("orders/paid", order) == "order.name is 65 characters long, more than 64"
        assert "order.number" in woo({**woo_order(723), "number": "7" * 64})

    def test_a_customer_name_over_255_characters_is_refused(self) -> None:
        from tests.conftest import fixture_json

        customer = fixture_json("shopify/customer.json")
        customer["last_name"] = "N" * 256
        assert shopify("customers/update", customer) == (
            "customer.last_name is 256 characters long, more than 255"
        )
        woo_customer = fixture_json("woocommerce/customer.json")
        woo_customer["first_name"] = "A" * 300
        assert "customer.first_name is 300" in woo(woo_customer, "customer.updated")

    @pytest.mark.parametrize(
        ("change", "where"),
        [
            (lambda o: o.update(name="#10\x0001"), "order.name"),
            (lambda o: o["customer"].update(id="12\x003"), "order.customer.id"),
            (lambda o: o.update(id="90\x0001"), "order.id"),
            (lambda o: o["line_items"][0].update(sku="IPOD\x00"), "order.line_items[0].sku"),
            (
                lambda o: o.update(discount_codes=[{"code": "FAKE\x0030"}]),
                "order.discount_codes[0].code",
            ),
        ],
    )
    def test_a_nul_character_in_a_stored_string_is_refused(self, change: Any, where: str) -> None:
        order = shopify_order(9001)
        change(order)
        assert shopify("orders/paid", order) == f"{where} contains a NUL character"

    def test_a_nul_character_in_an_email_is_refused(self) -> None:
        from tests.conftest import fixture_json

        customer = fixture_json("woocommerce/customer.json")
        customer["email"] = "john\x00@example.com"
        assert woo(customer, "customer.updated") == "customer.email contains a NUL character"

    def test_a_quantity_past_64_bits_is_refused(self) -> None:
        body = dumps(shopify_order(9001)).replace(
            b'"quantity":1', b'"quantity":18446744073709551616'
        )
        assert "order.line_items[0].quantity" in shopify("orders/paid", body)

    def test_a_quantity_past_63_bits_is_refused(self) -> None:
        order = shopify_order(9001, merchandise="0.01")
        order["line_items"][0]["quantity"] = 2**63
        assert shopify("orders/paid", order) == (
            f"order.line_items[0].quantity: {2**63} is more than 1,000,000,000 units"
        )

    def test_an_id_past_64_bits_is_refused(self) -> None:
        body = orjson.dumps(woo_order(723)).replace(b'"id":723', b'"id":18446744073709551616', 1)
        assert woo(body).startswith("order.id must be an integer or string id")

    def test_a_customer_id_of_2_to_the_64_minus_1_is_a_valid_id(self) -> None:
        # the largest integer a JSON parser reads exactly: stored as its 20 digits
        order = shopify_order(9001, customer_id=2**64 - 1)
        [snap] = parse_body(Platform.SHOPIFY, "orders/paid", dumps(order), {})
        assert isinstance(snap, OrderSnapshot)
        assert snap.customer_id == str(2**64 - 1)


class TestDisplayOnlyFields:
    def test_an_order_without_presentment_money_is_parsed_on_shop_money(self) -> None:
        order = shopify_order(9001, merchandise="181.09")
        for line in order["line_items"]:
            line["price_set"].pop("presentment_money")
        [snap] = parse_body(Platform.SHOPIFY, "orders/paid", dumps(order), {})
        assert isinstance(snap, OrderSnapshot)
        assert snap.merchandise_minor == 18109
        assert (snap.presentment_currency, snap.presentment_merchandise_minor) == ("USD", None)

    def test_an_odd_presentment_currency_is_unknown_not_a_rejection(self) -> None:
        order = shopify_order(9001, merchandise="181.09")
        order["presentment_currency"] = "NOT-A-CODE"
        [snap] = parse_body(Platform.SHOPIFY, "orders/paid", dumps(order), {})
        assert isinstance(snap, OrderSnapshot)
        assert snap.merchandise_minor == 18109
        assert snap.presentment_currency is None


class TestTimestamps:
    @pytest.mark.parametrize(
        "value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00", "9999-12-31T00:00:00Z"]
    )
    def test_a_time_at_the_edge_of_the_calendar_is_refused_not_a_crash(self, value: str) -> None:
        # a hold or an expiry added to it would overflow when the order is reconciled
        message = shopify("orders/paid", shopify_order(9001, updated_at=value))
        assert message.startswith(f"order.updated_at: {value!r} is ")

    def test_a_time_before_1970_is_refused(self) -> None:
        order = shopify_order(9001)
        order["processed_at"] = "1969-12-31T23:59:59Z"
        assert shopify("orders/paid", order) == (
            "order.processed_at: '1969-12-31T23:59:59Z' is outside the times Vafa accepts"
        )


class TestDedupeKeys:
    def test_a_dedupe_key_holds_no_nul_whatever_the_body(self) -> None:
        # coupon.* is accepted and ignored, so its body is not parsed: only the key reads it
        from app.connectors.base import WebhookHeaders
        from app.connectors.woocommerce import WooCommerceConnector

        body = orjson.dumps({"id": 5, "date_modified_gmt": "2017-03-21T16:09:30\x00"})
        key = WooCommerceConnector().dedupe_key(
            "coupon.updated", body, WebhookHeaders("coupon.updated", None)
        )
        assert "\x00" not in key
        assert key.startswith("woocommerce:sha256:")
