"""Anonymising a webhook body: the person goes, everything the points are computed from stays."""

from __future__ import annotations

import copy
from dataclasses import replace

import orjson

from app.connectors.base import Platform
from app.connectors.registry import parse_body
from app.privacy.scrub import Person, anonymise_body
from tests.conftest import fixture_json
from tests.payloads import dumps, shopify_order, woo_order

EMAIL = "jane@example.com"  # the published Shopify order sample's


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _without_contact(snapshot: object) -> object:
    """The snapshot but the buyer's contact hashes, which a redaction is meant to change."""
    return replace(snapshot, contact_keys=()) if hasattr(snapshot, "contact_keys") else snapshot  # type: ignore[type-var]


def test_an_anonymised_shopify_order_parses_to_the_same_snapshot() -> None:
    body = dumps(shopify_order(1, customer_id=42))
    cleaned = anonymise_body("orders/paid", body, Person.of("42", emails=[EMAIL]))
    assert cleaned is not None
    after = parse_body(Platform.SHOPIFY, "orders/paid", cleaned, {})
    before = parse_body(Platform.SHOPIFY, "orders/paid", body, {})
    assert [_without_contact(s) for s in after] == [_without_contact(s) for s in before]
    assert [getattr(s, "contact_keys", ()) for s in after] == [()]  # nothing left to compare
    texts = set(_strings(orjson.loads(cleaned)))
    original = set(_strings(orjson.loads(body)))
    personal = {EMAIL, "John", "Smith", "Jane Smith", "John Smith", "123 Fake Street"}
    assert personal <= original
    assert not personal & texts


def test_an_anonymised_woocommerce_order_parses_to_the_same_snapshot() -> None:
    order = woo_order(5, customer_id=26)
    body = dumps(order)
    cleaned = anonymise_body("order.updated", body, Person.of("26"))
    assert cleaned is not None
    after = parse_body(Platform.WOOCOMMERCE, "order.updated", cleaned, {})
    assert [_without_contact(s) for s in after] == [
        _without_contact(s) for s in parse_body(Platform.WOOCOMMERCE, "order.updated", body, {})
    ]
    document = orjson.loads(cleaned)
    assert set(document["billing"].values()) <= {None}
    assert document["customer_id"] == 26


def test_a_customer_record_keeps_its_id_and_loses_the_person() -> None:
    record = fixture_json("shopify/customer.json")
    body = dumps(record)
    cleaned = anonymise_body("customers/update", body, Person.of(str(record["id"])))
    assert cleaned is not None
    (snap,) = parse_body(Platform.SHOPIFY, "customers/update", cleaned, {})
    assert (snap.customer_id, snap.email, snap.first_name, snap.last_name) == (  # type: ignore[union-attr]
        str(record["id"]),
        None,
        None,
        None,
    )
    assert record["email"] not in cleaned.decode()
    assert record["phone"] not in cleaned.decode()


def test_only_bodies_about_the_person_are_changed() -> None:
    person = Person.of("42", emails=[EMAIL], order_ids=[77])
    someone_else = dumps({**shopify_order(2, customer_id=43), "email": "x@y.example",
                          "contact_email": None})  # fmt: skip
    someone_else = someone_else.replace(EMAIL.encode(), b"other@y.example")
    assert anonymise_body("orders/paid", someone_else, person) is None
    guest = dumps(shopify_order(3, customer_id=None))  # a guest order with their e-mail
    assert anonymise_body("orders/paid", guest, person) is not None
    named = copy.deepcopy(shopify_order(77, customer_id=None))
    named["email"] = named["contact_email"] = None
    named_body = dumps(named).replace(EMAIL.encode(), b"")
    assert anonymise_body("orders/paid", named_body, person) is not None  # orders_to_redact


def test_an_escaped_address_is_found_and_replaced() -> None:
    body = b'{"id": 9, "note": "mail jane\\u0040example.com please", "total": "1.00"}'
    cleaned = anonymise_body("orders/paid", body, Person.of("1", emails=[EMAIL]))
    assert cleaned is not None
    assert orjson.loads(cleaned) == {"id": 9, "note": None, "total": "1.00"}
    body = b'{"id": 9, "tags": "vip jane\\u0040example.com", "total": "1.00"}'
    cleaned = anonymise_body("orders/paid", body, Person.of("1", emails=[EMAIL]))
    assert cleaned is not None
    assert orjson.loads(cleaned)["tags"] == "vip [redacted]"
