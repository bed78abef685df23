"""Shopify connector: signatures, dedupe keys and payload parsing, on Shopify's sample payloads."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.connectors.base import (
    CustomerSnapshot,
    FinancialState,
    Ignored,
    OrderSnapshot,
    Platform,
    RefundLine,
    RefundSnapshot,
    WebhookHeaders,
)
from app.connectors.registry import connector_for
from app.connectors.shopify import ShopifyConnector
from app.errors import InvalidPayload

FIXTURES = Path(__file__).parent.parent / "fixtures" / "shopify"
SHOPIFY = ShopifyConnector()
NO_OVERRIDES: dict[str, int] = {}


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str) -> Any:
    return orjson.loads(raw(name))


def parse_one(topic: str, payload: object, exponents: dict[str, int] | None = None) -> object:
    [snapshot] = SHOPIFY.parse(topic, payload, exponents or NO_OVERRIDES)
    return snapshot


def parse_order(payload: object, exponents: dict[str, int] | None = None) -> OrderSnapshot:
    snapshot = parse_one("orders/updated", payload, exponents)
    assert isinstance(snapshot, OrderSnapshot)
    return snapshot


def money(amount: str, currency: str = "USD") -> dict[str, Any]:
    bag = {"amount": amount, "currency_code": currency}
    return {"shop_money": bag, "presentment_money": bag}


def line(price_set: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "price_set": price_set or money("10.00"),
        "quantity": 1,
        "discount_allocations": [],
        "tax_lines": [],
    }
    item.update(fields)
    return item


def minimal_order(**fields: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": 1,
        "currency": "USD",
        "line_items": [line()],
        "financial_status": "paid",
        "updated_at": "2025-01-01T00:00:00Z",
    }
    order.update(fields)
    return order


# --- signature ---------------------------------------------------------------------------

VECTOR = "Kbbu7606o0W+MAMZj4PbzE/y2m8BZX+oA4gXQWbvzxU="  # shop-redact.json with secret "hush"


def test_signature_test_vector_is_accepted() -> None:
    assert SHOPIFY.verify_signature(raw("shop-redact.json"), VECTOR, ["hush"])


def test_signature_with_wrong_secret_is_rejected() -> None:
    assert not SHOPIFY.verify_signature(raw("shop-redact.json"), VECTOR, ["hush2"])


def test_signature_by_previous_secret_is_accepted_during_rotation() -> None:
    assert SHOPIFY.verify_signature(raw("shop-redact.json"), VECTOR, ["new-secret", "hush"])


def test_signature_over_tampered_body_is_rejected() -> None:
    tampered = raw("shop-redact.json").replace(b"954889", b"954890")
    assert not SHOPIFY.verify_signature(tampered, VECTOR, ["hush"])


@pytest.mark.parametrize(
    "header", [None, "", "not-base64-at-all", "Kbbu7606o0W+MAMZj4PbzE/y2m8BZX+oA4gXQWbvzxU"]
)
def test_signature_missing_or_malformed_header_is_rejected(header: str | None) -> None:
    assert not SHOPIFY.verify_signature(raw("shop-redact.json"), header, ["hush"])


def test_signature_non_ascii_header_is_rejected_not_an_error() -> None:
    assert not SHOPIFY.verify_signature(raw("shop-redact.json"), "Kbbu€", ["hush"])


def test_signature_over_empty_body_is_rejected() -> None:
    assert not SHOPIFY.verify_signature(b"", VECTOR, ["hush"])


def test_signature_empty_secret_never_matches() -> None:
    assert not SHOPIFY.verify_signature(raw("shop-redact.json"), VECTOR, [""])


# --- dedupe key ----------------------------------------------------------------------------


def test_dedupe_same_event_id_gives_same_key_across_subscriptions() -> None:
    body = raw("orders-create.json")
    first = WebhookHeaders(
        "orders/create", VECTOR, event_id="e-1", extra={"x-shopify-webhook-id": "w-1"}
    )
    second = WebhookHeaders(
        "orders/create", VECTOR, event_id="e-1", extra={"x-shopify-webhook-id": "w-2"}
    )
    key = SHOPIFY.dedupe_key("orders/create", body, first)
    assert key == "shopify:event:orders/create:e-1"
    assert SHOPIFY.dedupe_key("orders/create", body, second) == key
    # One merchant action may be delivered on several topics: each is kept.
    assert SHOPIFY.dedupe_key("orders/updated", body, first) != key


def test_dedupe_falls_back_to_webhook_id() -> None:
    headers = WebhookHeaders("orders/create", VECTOR, extra={"x-shopify-webhook-id": "w-1"})
    assert SHOPIFY.dedupe_key("orders/create", b"{}", headers) == (
        "shopify:webhook:orders/create:w-1"
    )


def test_dedupe_without_ids_uses_topic_and_body_hash() -> None:
    headers = WebhookHeaders("orders/create", VECTOR)
    body = raw("orders-create.json")
    key = SHOPIFY.dedupe_key("orders/create", body, headers)
    assert key.startswith("shopify:body:orders/create:")
    assert len(key.rsplit(":", 1)[1]) == 64  # sha256 hex
    assert SHOPIFY.dedupe_key("orders/create", body, headers) == key
    assert SHOPIFY.dedupe_key("orders/updated", body, headers) != key
    assert SHOPIFY.dedupe_key("orders/create", body + b" ", headers) != key


def test_dedupe_key_never_exceeds_255_chars() -> None:
    headers = WebhookHeaders("orders/create", VECTOR, event_id="e" * 400)
    key = SHOPIFY.dedupe_key("orders/create", b"{}", headers)
    assert key.startswith("shopify:")
    assert len(key) <= 255


# --- orders --------------------------------------------------------------------------------


def test_orders_create_sample() -> None:
    order = parse_order(load("orders-create.json"))
    assert order.order_id == "1073459981"
    assert order.name == "#1002"
    assert order.customer_id == "1073339475"
    assert (order.currency, order.exponent) == ("USD", 2)
    # subtotal 181.09 = line 199.00 − discount 17.91; no shipping, no tax.
    assert order.merchandise_minor == 18109
    assert (order.shipping_minor, order.tax_minor) == (0, 0)
    assert order.financial_state is FinancialState.PAID
    assert order.cancelled is False
    # processed_at / updated_at 11:31:38 at −05:00 → 16:31:38 UTC
    assert order.paid_at == datetime(2025, 4, 2, 16, 31, 38, tzinfo=UTC)
    assert order.updated_at == datetime(2025, 4, 2, 16, 31, 38, tzinfo=UTC)
    assert order.refunds == ()
    assert (order.presentment_currency, order.presentment_merchandise_minor) == ("USD", 18109)


def test_order_with_embedded_refund() -> None:
    order = parse_order(load("order-with-refund.json"))
    assert order.order_id == "450789469"
    assert order.customer_id == "207119551"
    # Three lines of 199.00 less their discount allocations 3.34 + 3.33 + 3.33 = 587.00
    # (the sample's subtotal_price says 597.00, ignoring its own discount); no tax in prices.
    assert order.merchandise_minor == 58700
    assert order.tax_minor == 1194  # total_tax 11.94
    assert order.financial_state is FinancialState.PAID  # partially_refunded still earns
    assert order.refunds == (
        RefundSnapshot(
            refund_id="509562969",
            order_id="450789469",
            # two refund lines: 195.66 + 195.67 = 391.33 (after discounts, tax excluded)
            merchandise_minor=39133,
            shipping_minor=0,
            created_at=datetime(2025, 4, 2, 16, 29, 59, tzinfo=UTC),
            lines=(RefundLine("703073504", 1, 19566), RefundLine("466157049", 1, 19567)),
        ),
    )


def test_taxes_included_subtracts_line_item_tax_but_not_shipping_tax() -> None:
    payload = load("order-with-refund.json")
    payload["taxes_included"] = True
    payload["shipping_lines"][0]["tax_lines"] = [{"price": "1.00", "price_set": money("1.00")}]
    order = parse_order(payload)
    # 587.00 − three line tax lines of 3.98 (11.94) = 575.06; the shipping tax is not in it.
    assert order.merchandise_minor == 57506
    assert order.presentment_merchandise_minor == 57506


def test_shipping_comes_from_total_shipping_price_set() -> None:
    order = parse_order(minimal_order(total_shipping_price_set=money("4.50"), total_tax="0.81"))
    assert (order.shipping_minor, order.tax_minor) == (450, 81)


def test_shop_money_is_used_for_merchandise_and_presentment_only_for_display() -> None:
    payload = minimal_order(
        presentment_currency="JPY",
        line_items=[
            line(
                price="9.99",
                price_set={
                    "shop_money": {"amount": "10.00", "currency_code": "USD"},
                    "presentment_money": {"amount": "1500", "currency_code": "JPY"},
                },
            )
        ],
    )
    order = parse_order(payload)
    assert (order.currency, order.merchandise_minor) == ("USD", 1000)  # the _set wins
    assert (order.presentment_currency, order.presentment_merchandise_minor) == ("JPY", 1500)


def test_zero_decimal_currency() -> None:
    order = parse_order(minimal_order(currency="JPY", line_items=[line(money("20", "JPY"))]))
    assert (order.exponent, order.merchandise_minor) == (0, 20)  # "20" yen is 20 minor units


def test_shop_currency_exponent_override() -> None:
    payload = minimal_order(currency="IRR", line_items=[line(money("150000", "IRR"))])
    order = parse_order(payload, {"IRR": 0})
    assert (order.exponent, order.merchandise_minor) == (0, 150000)
    # A shop that does keep Rial decimals says so, and the same amount is 100× the minor units.
    assert parse_order(payload, {"IRR": 2}).merchandise_minor == 15000000


def test_plain_string_amount_is_used_when_there_is_no_set() -> None:
    payload = minimal_order(line_items=[{"price": "12.34", "quantity": 1}])
    assert parse_order(payload).merchandise_minor == 1234


def test_guest_order_has_no_customer() -> None:
    assert parse_order(minimal_order(customer=None)).customer_id is None
    assert parse_order(minimal_order()).customer_id is None


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("paid", FinancialState.PAID),
        ("partially_refunded", FinancialState.PAID),
        ("refunded", FinancialState.REFUNDED),
        ("voided", FinancialState.VOIDED),
        ("pending", FinancialState.PENDING),
        ("authorized", FinancialState.PENDING),
        ("partially_paid", FinancialState.PENDING),
        ("expired", FinancialState.PENDING),
        ("something_new", FinancialState.PENDING),
    ],
)
def test_financial_status(status: str, state: FinancialState) -> None:
    payload = minimal_order(financial_status=status, processed_at="2025-01-01T10:00:00+03:30")
    order = parse_order(payload)
    assert order.financial_state is state
    paid = state in (FinancialState.PAID, FinancialState.REFUNDED)
    assert order.paid_at == (datetime(2025, 1, 1, 6, 30, tzinfo=UTC) if paid else None)


def test_cancelled_order() -> None:
    order = parse_order(
        minimal_order(cancelled_at="2025-01-02T00:00:00Z", financial_status="voided")
    )
    assert order.cancelled is True
    assert order.financial_state is FinancialState.VOIDED


@pytest.mark.parametrize(
    "topic",
    ["orders/create", "orders/paid", "orders/updated", "orders/cancelled", "orders/fulfilled"],
)
def test_every_order_topic_gives_an_order_snapshot(topic: str) -> None:
    [snapshot] = SHOPIFY.parse(topic, load("orders-create.json"), NO_OVERRIDES)
    assert isinstance(snapshot, OrderSnapshot)


# --- refunds -------------------------------------------------------------------------------


def test_refunds_create_sample() -> None:
    snapshot = parse_one("refunds/create", load("refunds-create.json"))
    assert snapshot == RefundSnapshot(
        refund_id="929361472",
        order_id="450789469",
        merchandise_minor=0,  # its one refund line has subtotal 0.00
        shipping_minor=0,
        created_at=datetime(2025, 4, 2, 16, 38, 34, tzinfo=UTC),
        lines=(RefundLine("518995019", 1, 0),),
    )


def test_refund_shipping_from_order_adjustments_and_shipping_object() -> None:
    payload = load("refunds-create.json")
    payload["order_adjustments"] = [
        {"kind": "shipping_refund", "amount": "-5.00", "amount_set": money("-5.00")},
        {"kind": "refund_discrepancy", "amount": "-2.00", "amount_set": money("-2.00")},
    ]
    payload["shipping"] = {"amount": "1.25"}
    refund = parse_one("refunds/create", payload)
    assert isinstance(refund, RefundSnapshot)
    assert refund.shipping_minor == 625  # |−5.00| + 1.25; the discrepancy is not shipping


def test_refund_line_float_subtotal_is_read_through_its_text() -> None:
    payload = load("refunds-create.json")
    line = payload["refund_line_items"][0]
    del line["subtotal_set"]
    line["subtotal"] = 199.0  # a JSON number, as Shopify sends the plain field
    refund = parse_one("refunds/create", payload)
    assert isinstance(refund, RefundSnapshot)
    assert refund.merchandise_minor == 19900


def test_refund_exponent_comes_from_the_refund_currency() -> None:
    payload = {
        "id": 9,
        "order_id": 8,
        "refund_line_items": [{"subtotal_set": money("20", "JPY")}],
        "transactions": [{"currency": "USD"}],  # shopper's currency: not the shop's
    }
    refund = parse_one("refunds/create", payload)
    assert isinstance(refund, RefundSnapshot)
    assert refund.merchandise_minor == 20  # JPY has no minor digits


def test_refund_without_currency_defaults_to_two_decimals() -> None:
    payload = {"id": 9, "order_id": 8, "refund_line_items": [{"subtotal": "1.50"}]}
    refund = parse_one("refunds/create", payload)
    assert isinstance(refund, RefundSnapshot)
    assert refund.merchandise_minor == 150


# --- customers and ignored topics -----------------------------------------------------------


def test_customer_sample() -> None:
    snapshot = parse_one("customers/update", load("customer.json"))
    assert snapshot == CustomerSnapshot(
        customer_id="207119551",
        email="bob.norman@mail.example.com",
        first_name="Bob",
        last_name="Norman",
        birthday=None,
        accepts_marketing=False,  # email_marketing_consent.state is not_subscribed
        updated_at=datetime(2025, 4, 2, 16, 25, 58, tzinfo=UTC),
    )


def test_customer_marketing_consent() -> None:
    payload = load("customer.json")
    payload["email_marketing_consent"]["state"] = "subscribed"
    subscribed = parse_one("customers/create", payload)
    assert isinstance(subscribed, CustomerSnapshot)
    assert subscribed.accepts_marketing is True
    legacy = copy.deepcopy(payload)
    del legacy["email_marketing_consent"]
    legacy["accepts_marketing"] = True
    old_style = parse_one("customers/create", legacy)
    assert isinstance(old_style, CustomerSnapshot)
    assert old_style.accepts_marketing is True


@pytest.mark.parametrize(
    ("topic", "fixture"),
    [
        ("app/uninstalled", "app-uninstalled.json"),
        ("customers/data_request", "customers-data_request.json"),
        ("customers/redact", "customers-redact.json"),
        ("shop/redact", "shop-redact.json"),
    ],
)
def test_known_topics_handled_elsewhere_are_ignored(topic: str, fixture: str) -> None:
    assert SHOPIFY.parse(topic, load(fixture), NO_OVERRIDES) == [Ignored(topic)]


def test_topics_lists_everything_parse_accepts() -> None:
    assert SHOPIFY.topics() == {
        "orders/create",
        "orders/paid",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "refunds/create",
        "customers/create",
        "customers/update",
        "app/uninstalled",
        "customers/data_request",
        "customers/redact",
        "shop/redact",
    }


# --- invalid payloads ------------------------------------------------------------------------


def invalid(topic: str, payload: object) -> str:
    with pytest.raises(InvalidPayload) as exc_info:
        SHOPIFY.parse(topic, payload, NO_OVERRIDES)
    return exc_info.value.message


def test_non_object_body_is_invalid() -> None:
    assert invalid("orders/create", [1, 2]) == "order must be a JSON object, got a list"


def test_order_without_id_is_invalid() -> None:
    payload = minimal_order()
    del payload["id"]
    assert invalid("orders/create", payload) == "order.id is missing"


def test_boolean_id_is_invalid() -> None:
    assert "order.id" in invalid("orders/create", minimal_order(id=True))


def test_malformed_amount_names_the_field() -> None:
    message = invalid("orders/create", minimal_order(line_items=[line(money("abc"))]))
    assert message == (
        "order.line_items[0].price_set.shop_money.amount: 'abc' is not a decimal amount"
    )


def test_malformed_refund_line_amount_names_the_line() -> None:
    payload = {
        "id": 9,
        "order_id": 8,
        "refund_line_items": [{"subtotal": "1.00"}, {"subtotal": "1,5"}],
    }
    assert invalid("refunds/create", payload).startswith("refund.refund_line_items[1].subtotal:")


def test_absurdly_large_amount_is_invalid_not_a_crash() -> None:
    assert "not a decimal amount" in invalid(
        "orders/create", minimal_order(line_items=[line(money("1e40"))])
    )


def test_timestamp_without_offset_is_invalid() -> None:
    message = invalid("orders/create", minimal_order(updated_at="2025-01-01T00:00:00"))
    assert message == "order.updated_at: '2025-01-01T00:00:00' has no timezone offset"


def test_wrongly_typed_list_is_invalid() -> None:
    assert invalid("orders/create", minimal_order(refunds={"id": 1})) == (
        "order.refunds must be a list, got an object"
    )


def test_unknown_topic_is_invalid() -> None:
    assert "not one Vafa parses" in invalid("products/create", {"id": 1})


# --- registry ----------------------------------------------------------------------------------


def test_registry_returns_one_shopify_connector() -> None:
    connector = connector_for("shopify")
    assert isinstance(connector, ShopifyConnector)
    assert connector is connector_for(Platform.SHOPIFY)
    assert connector.platform is Platform.SHOPIFY


def test_registry_rejects_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform 'magento'"):
        connector_for("magento")


def test_embedded_refund_without_currency_uses_the_order_exponent() -> None:
    payload = minimal_order(
        currency="JPY",
        line_items=[line(money("3000", "JPY"))],
        refunds=[{"id": 7, "refund_line_items": [{"subtotal": "1000"}]}],
    )
    # No currency on the refund and no order_id: both come from the parent order.
    assert parse_order(payload).refunds == (
        RefundSnapshot(
            "7", "1", 1000, shipping_minor=0, created_at=None, lines=(RefundLine(None, 0, 1000),)
        ),
    )


def test_gift_card_lines_earn_nothing() -> None:
    order = load("orders-create.json")
    gift = copy.deepcopy(order["line_items"][0])
    gift.update(gift_card=True, price="50.00", discount_allocations=[], quantity=2)
    gift["price_set"] = {
        "shop_money": {"amount": "50.00", "currency_code": "USD"},
        "presentment_money": {"amount": "50.00", "currency_code": "USD"},
    }
    order["line_items"].append(gift)
    # only the 199.00 − 17.91 line counts; 2 × 50.00 of gift cards do not
    assert parse_order(order).merchandise_minor == 18109


def test_quantity_multiplies_the_price() -> None:
    order = load("orders-create.json")
    order["line_items"][0]["quantity"] = 3
    # 3 × 199.00 − 17.91 allocated discount = 579.09
    assert parse_order(order).merchandise_minor == 57909


def test_taxes_included_are_taken_out_of_the_merchandise() -> None:
    order = load("order-with-refund.json")
    order["taxes_included"] = True
    # 587.00 − three lines of 3.98 tax = 575.06
    assert parse_order(order).merchandise_minor == 57506


def test_non_integer_quantity_is_invalid() -> None:
    order = load("orders-create.json")
    order["line_items"][0]["quantity"] = "two"
    with pytest.raises(InvalidPayload, match="quantity"):
        parse_order(order)
