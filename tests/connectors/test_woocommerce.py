"""WooCommerce connector: signatures, dedupe keys and payload parsing, on the REST docs' samples."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.connectors.base import (
    CustomerSnapshot,
    FinancialState,
    Ignored,
    OrderDeleted,
    OrderSnapshot,
    Platform,
    RefundSnapshot,
    WebhookHeaders,
)
from app.connectors.registry import connector_for
from app.connectors.woocommerce import WooCommerceConnector
from app.connectors.woocommerce.webhooks import decode_secret
from app.errors import InvalidPayload

FIXTURES = Path(__file__).parent.parent / "fixtures" / "woocommerce"
WOO = WooCommerceConnector()
NO_OVERRIDES: dict[str, int] = {}


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str) -> Any:
    return orjson.loads(raw(name))


def parse_order(
    payload: object, exponents: dict[str, int] | None = None, topic: str = "order.updated"
) -> OrderSnapshot:
    [snapshot] = WOO.parse(topic, payload, exponents or NO_OVERRIDES)
    assert isinstance(snapshot, OrderSnapshot)
    return snapshot


def headers(topic: str, **extra: str) -> WebhookHeaders:
    return WebhookHeaders(topic=topic, signature="sig", extra=extra)


# --- signature ---------------------------------------------------------------------------

# Computed once with Python's hmac over the exact bytes of order.json, key 's3cr&t"x'.
ORDER_SIGNATURE = "IJYUq6HnhjtDfCtAO5YuCHv9dUvduvrMpNTbDTA0EFE="


def test_signature_signed_with_decoded_secret_is_accepted() -> None:
    # WordPress keeps the secret entity-encoded and signs with its decoded form.
    assert WOO.verify_signature(raw("order.json"), ORDER_SIGNATURE, ["s3cr&amp;t&quot;x"])
    assert WOO.verify_signature(raw("order.json"), ORDER_SIGNATURE, ['s3cr&t"x'])


def test_signature_with_wrong_secret_is_rejected() -> None:
    assert not WOO.verify_signature(raw("order.json"), ORDER_SIGNATURE, ["s3cr&t"])


def test_signature_by_previous_secret_is_accepted() -> None:
    assert WOO.verify_signature(raw("order.json"), ORDER_SIGNATURE, ["rotated", 's3cr&t"x'])


def test_signature_over_tampered_body_is_rejected() -> None:
    tampered = raw("order.json").replace(b'"29.35"', b'"2935.00"')
    assert not WOO.verify_signature(tampered, ORDER_SIGNATURE, ['s3cr&t"x'])


@pytest.mark.parametrize("header", [None, ""])
def test_signature_missing_header_is_rejected(header: str | None) -> None:
    assert not WOO.verify_signature(raw("order.json"), header, ['s3cr&t"x'])


def test_signature_over_empty_body_is_rejected() -> None:
    assert not WOO.verify_signature(b"", ORDER_SIGNATURE, ['s3cr&t"x'])


@pytest.mark.parametrize(
    ("stored", "used"),
    [
        ("a&amp;b&lt;c&gt;d&quot;e&#039;f", "a&b<c>d\"e'f"),
        ("&#39;&#0039;&#x27;&#X27;&#x0027;", "'''''"),  # numeric forms, zero padding, X or x
        ("&#34;&#060;&#062;&#038;&#x26;&#x22;", '"<>&&"'),
        ("&amp;lt;", "&lt;"),  # one pass, as PHP strtr: no double decoding
        ("&nbsp;&copy;&#65;&QUOT;", "&nbsp;&copy;&#65;&QUOT;"),  # only the five specials
        ("plainSecret123", "plainSecret123"),
    ],
)
def test_secret_entity_decoding_matches_wp_specialchars_decode(stored: str, used: str) -> None:
    assert decode_secret(stored) == used


# --- dedupe key ----------------------------------------------------------------------------


def test_dedupe_order_key_is_id_and_modification_time() -> None:
    body = raw("order.json")
    key = WOO.dedupe_key(
        "order.updated", body, headers("order.updated", **{"x-wc-webhook-delivery-id": "d1"})
    )
    assert key.startswith("woocommerce:order.updated:727:2017-03-22T19:28:08:")
    # A re-send has a new delivery id but the same state.
    again = headers("order.updated", **{"x-wc-webhook-delivery-id": "d2"})
    assert WOO.dedupe_key("order.updated", body, again) == key
    assert WOO.dedupe_key("order.created", body, again) != key


def test_dedupe_falls_back_to_local_modification_time() -> None:
    body = orjson.dumps({"id": 5, "date_modified": "2017-03-21T16:09:30"})
    assert WOO.dedupe_key("customer.updated", body, headers("customer.updated")).startswith(
        "woocommerce:customer.updated:5:2017-03-21T16:09:30:"
    )


def test_dedupe_two_states_in_the_same_second_are_both_kept() -> None:
    paid = orjson.loads(raw("order.json"))
    completed = {**paid, "status": "completed"}  # same date_modified_gmt, to the second
    h = headers("order.updated", **{"x-wc-webhook-delivery-id": "d1"})
    assert WOO.dedupe_key("order.updated", orjson.dumps(paid), h) != WOO.dedupe_key(
        "order.updated", orjson.dumps(completed), h
    )


def test_dedupe_deleted_order_uses_delivery_id_or_body_hash() -> None:
    body = b'{"id":727}'
    with_delivery = headers("order.deleted", **{"x-wc-webhook-delivery-id": "abc"})
    assert (
        WOO.dedupe_key("order.deleted", body, with_delivery) == "woocommerce:order.deleted:727:abc"
    )
    digest = hashlib.sha256(body).hexdigest()
    assert WOO.dedupe_key("order.deleted", body, headers("order.deleted")) == (
        f"woocommerce:order.deleted:727:{digest}"
    )


def test_dedupe_action_topic_needs_no_id() -> None:
    body = b'{"action":"woocommerce_order_refunded","arg":723}'
    topic = "action.woocommerce_order_refunded"
    key = WOO.dedupe_key(topic, body, headers(topic, **{"x-wc-webhook-delivery-id": "z"}))
    assert key == "woocommerce:action.woocommerce_order_refunded:z"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"webhook_id=12", "order.updated body is not valid JSON"),
        (b"[1, 2]", "order.updated body must be a JSON object, got a list"),
        (b'{"number": "727"}', "order.updated body.id is missing"),
    ],
)
def test_dedupe_rejects_body_without_an_id(body: bytes, message: str) -> None:
    with pytest.raises(InvalidPayload) as exc_info:
        WOO.dedupe_key("order.updated", body, headers("order.updated"))
    assert exc_info.value.message == message


def test_dedupe_key_never_exceeds_255_chars() -> None:
    body = orjson.dumps({"id": 1, "date_modified_gmt": "x" * 300})
    key = WOO.dedupe_key("order.updated", body, headers("order.updated"))
    assert key.startswith("woocommerce:")
    assert len(key) <= 255


# --- orders --------------------------------------------------------------------------------


def test_order_sample_727() -> None:
    order = parse_order(load("order.json"))
    assert order.order_id == "727"
    assert order.name == "#727"
    assert order.customer_id is None  # customer_id 0: a guest
    assert (order.currency, order.exponent) == ("USD", 2)
    # line totals 6.00 + 12.00 = 18.00 (tax 1.35 and shipping 10.00 are separate)
    assert order.merchandise_minor == 1800
    assert (order.shipping_minor, order.tax_minor) == (1000, 135)
    assert order.financial_state is FinancialState.PAID  # processing
    assert order.cancelled is False
    # *_gmt fields are UTC without an offset
    assert order.paid_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert order.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert order.refunds == ()
    assert order.restored is False


def test_order_sample_723_with_two_refunds() -> None:
    order = parse_order(load("order-with-refund.json"))
    assert order.customer_id == "26"
    assert order.merchandise_minor == 2900  # 9.00 + 20.00
    assert (order.shipping_minor, order.tax_minor) == (1000, 0)
    assert order.financial_state is FinancialState.PAID  # completed
    assert order.paid_at is None  # date_paid is null in the sample
    assert order.updated_at == datetime(2017, 3, 21, 19, 54, 51, tzinfo=UTC)
    # Each refund's merchandise share = 2900 × |refund total| ÷ order total 3900, floored:
    #   refund 726: 2900 × 1000 ÷ 3900 = 743.58… → 743
    #   refund 724: 2900 ×  900 ÷ 3900 = 669.23… → 669
    assert order.refunds == (
        RefundSnapshot("726", "723", merchandise_minor=743, shipping_minor=0, created_at=None),
        RefundSnapshot("724", "723", merchandise_minor=669, shipping_minor=0, created_at=None),
    )


def test_refund_share_is_capped_and_zero_for_a_free_order() -> None:
    payload = load("order-with-refund.json")
    payload["refunds"] = [{"id": 1, "reason": "goodwill", "total": "-50.00"}]
    # 2900 × 5000 ÷ 3900 = 3717 > 2900 merchandise → capped
    assert parse_order(payload).refunds[0].merchandise_minor == 2900
    payload["total"] = "0.00"
    assert parse_order(payload).refunds[0].merchandise_minor == 0


def test_zero_decimal_currency() -> None:
    payload = load("order.json")
    payload.update(currency="JPY", total="20", shipping_total="0", total_tax="0")
    payload["line_items"] = [{"total": "20"}]
    order = parse_order(payload)
    assert (order.exponent, order.merchandise_minor) == (0, 20)


def test_shop_currency_exponent_override() -> None:
    payload = load("order.json")
    payload.update(currency="IRR", total="1500000", shipping_total="0", total_tax="0")
    payload["line_items"] = [{"total": "1500000"}]
    order = parse_order(payload, {"IRR": 0})
    assert (order.exponent, order.merchandise_minor) == (0, 1500000)


@pytest.mark.parametrize(
    ("status", "state", "cancelled"),
    [
        ("processing", FinancialState.PAID, False),
        ("completed", FinancialState.PAID, False),
        ("refunded", FinancialState.REFUNDED, False),
        ("cancelled", FinancialState.VOIDED, True),
        ("failed", FinancialState.VOIDED, False),
        ("pending", FinancialState.PENDING, False),
        ("on-hold", FinancialState.PENDING, False),
        ("checkout-draft", FinancialState.PENDING, False),
        ("trash", FinancialState.PENDING, False),
        ("custom-status", FinancialState.PENDING, False),
    ],
)
def test_status(status: str, state: FinancialState, cancelled: bool) -> None:
    payload = load("order.json")
    payload["status"] = status
    order = parse_order(payload)
    assert (order.financial_state, order.cancelled) == (state, cancelled)


def test_restored_order() -> None:
    assert parse_order(load("order.json"), topic="order.restored").restored is True


def test_deleted_order() -> None:
    assert WOO.parse("order.deleted", {"id": 727}, NO_OVERRIDES) == [OrderDeleted("727")]


def test_local_times_are_used_when_gmt_ones_are_missing() -> None:
    payload = load("order.json")
    del payload["date_modified_gmt"], payload["date_paid_gmt"]
    order = parse_order(payload)
    assert order.updated_at == datetime(2017, 3, 22, 16, 28, 8, tzinfo=UTC)
    assert order.paid_at == datetime(2017, 3, 22, 16, 28, 8, tzinfo=UTC)


# --- customers and ignored topics -----------------------------------------------------------


def test_customer_sample() -> None:
    assert WOO.parse("customer.created", load("customer.json"), NO_OVERRIDES) == [
        CustomerSnapshot(
            customer_id="25",
            email="john.doe@example.com",
            first_name="John",
            last_name="Doe",
            birthday=None,
            accepts_marketing=None,
            updated_at=datetime(2017, 3, 21, 19, 9, 30, tzinfo=UTC),
        )
    ]


def test_customer_birthday_from_meta_data() -> None:
    payload = load("customer.json")
    payload["meta_data"] = [
        {"id": 1, "key": "birthday", "value": "17/05/1990"},  # not ISO: skipped
        {"id": 2, "key": "billing_birthdate", "value": "1990-05-17"},
    ]
    [customer] = WOO.parse("customer.updated", payload, NO_OVERRIDES)
    assert isinstance(customer, CustomerSnapshot)
    assert customer.birthday == date(1990, 5, 17)


def test_blank_names_read_as_none() -> None:
    payload = load("customer.json")
    payload.update(first_name="", last_name="  ")
    [customer] = WOO.parse("customer.updated", payload, NO_OVERRIDES)
    assert isinstance(customer, CustomerSnapshot)
    assert (customer.first_name, customer.last_name) == (None, None)


@pytest.mark.parametrize(
    "topic",
    [
        "customer.deleted",
        "coupon.created",
        "coupon.restored",
        "product.updated",
        "action.woocommerce_order_refunded",
        "action.woocommerce_refund_created",
    ],
)
def test_ignored_topics(topic: str) -> None:
    assert WOO.parse(topic, {"id": 1}, NO_OVERRIDES) == [Ignored(topic)]


def test_topics() -> None:
    topics = WOO.topics()
    expected = {"order.created", "order.updated", "order.restored", "order.deleted"}
    assert expected | {"customer.created", "customer.updated", "customer.deleted"} <= topics
    assert {"coupon.created", "product.deleted"} <= topics


# --- invalid payloads ------------------------------------------------------------------------


def invalid(topic: str, payload: object) -> str:
    with pytest.raises(InvalidPayload) as exc_info:
        WOO.parse(topic, payload, NO_OVERRIDES)
    return exc_info.value.message


def test_non_object_body_is_invalid() -> None:
    assert invalid("order.updated", "727") == "order must be a JSON object, got the string '727'"


def test_order_without_id_is_invalid() -> None:
    payload = load("order.json")
    del payload["id"]
    assert invalid("order.updated", payload) == "order.id is missing"


def test_malformed_line_total_names_the_line() -> None:
    payload = load("order.json")
    payload["line_items"][1]["total"] = "abc"
    assert (
        invalid("order.updated", payload)
        == "order.line_items[1].total: 'abc' is not a decimal amount"
    )


def test_malformed_refund_total_is_invalid() -> None:
    payload = load("order-with-refund.json")
    payload["refunds"][0]["total"] = ["-10.00"]
    assert invalid("order.updated", payload) == (
        "order.refunds[0].total must be a decimal amount, got a list"
    )


def test_bad_timestamp_is_invalid() -> None:
    payload = load("order.json")
    payload["date_modified_gmt"] = "yesterday"
    assert invalid("order.updated", payload) == (
        "order.date_modified_gmt: 'yesterday' is not an ISO 8601 timestamp"
    )


def test_unknown_topic_is_invalid() -> None:
    assert "not one Vafa parses" in invalid("subscription.created", {"id": 1})


# --- registry ----------------------------------------------------------------------------------


def test_registry_returns_one_woocommerce_connector() -> None:
    connector = connector_for("woocommerce")
    assert isinstance(connector, WooCommerceConnector)
    assert connector is connector_for(Platform.WOOCOMMERCE)
    assert connector.platform is Platform.WOOCOMMERCE
