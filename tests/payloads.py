"""Platform payloads for scenarios, built from the real published samples in tests/fixtures by
changing only the fields a scenario is about."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson

from tests.conftest import fixture_json

_SHOPIFY_ORDER = fixture_json("shopify/orders-create.json")
_SHOPIFY_REFUND = fixture_json("shopify/refunds-create.json")
_WOO_ORDER = fixture_json("woocommerce/order-with-refund.json")


def _money_set(amount: str, currency: str = "USD") -> dict[str, Any]:
    money = {"amount": amount, "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


def shopify_order(
    order_id: int,
    *,
    customer_id: int | None = 1073339475,
    merchandise: str = "181.09",
    financial_status: str = "paid",
    updated_at: str = "2025-04-02T11:31:38-05:00",
    cancelled_at: str | None = None,
    refunds: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Shopify order whose one line item costs ``merchandise`` after discounts."""
    order = copy.deepcopy(_SHOPIFY_ORDER)
    order["id"] = order_id
    order["name"] = f"#{order_id}"
    order["financial_status"] = financial_status
    order["updated_at"] = updated_at
    order["cancelled_at"] = cancelled_at
    order["cancel_reason"] = "customer" if cancelled_at else None
    order["refunds"] = refunds or []
    if customer_id is None:
        order["customer"] = None
    else:
        order["customer"] = {**order["customer"], "id": customer_id}
    line = order["line_items"][0]
    line["price"] = merchandise
    line["price_set"] = _money_set(merchandise)
    line["quantity"] = 1
    line["discount_allocations"] = []
    line["tax_lines"] = []
    order["line_items"] = [line]
    order["taxes_included"] = False
    order["total_discounts"] = "0.00"
    order["total_discounts_set"] = _money_set("0.00")
    for field in ("subtotal_price", "current_subtotal_price", "total_line_items_price"):
        order[field] = merchandise
        order[f"{field}_set"] = _money_set(merchandise)
    return order


def shopify_refund(
    refund_id: int,
    order_id: int,
    *,
    merchandise: str,
    created_at: str = "2025-04-03T10:00:00-05:00",
) -> dict[str, Any]:
    refund = copy.deepcopy(_SHOPIFY_REFUND)
    refund["id"] = refund_id
    refund["order_id"] = order_id
    refund["created_at"] = created_at
    refund["order_adjustments"] = []
    line = refund["refund_line_items"][0]
    line["id"] = refund_id * 10
    line["subtotal"] = float(merchandise)  # Shopify sends a number here, and a string in _set
    line["subtotal_set"] = _money_set(merchandise)
    line["total_tax"] = 0.0
    line["total_tax_set"] = _money_set("0.00")
    refund["refund_line_items"] = [line]
    return refund


def woo_order(
    order_id: int,
    *,
    customer_id: int = 26,
    status: str = "completed",
    lines: tuple[str, ...] = ("9.00", "20.00"),
    total: str = "39.00",
    refunds: list[tuple[int, str]] | None = None,
    modified_gmt: str = "2017-03-21T19:54:51",
) -> dict[str, Any]:
    order = copy.deepcopy(_WOO_ORDER)
    order["id"] = order_id
    order["number"] = str(order_id)
    order["customer_id"] = customer_id
    order["status"] = status
    order["total"] = total
    order["date_modified_gmt"] = modified_gmt
    order["date_modified"] = modified_gmt
    template = order["line_items"][0]
    order["line_items"] = [
        {**copy.deepcopy(template), "id": order_id * 10 + i, "total": amount, "subtotal": amount}
        for i, amount in enumerate(lines)
    ]
    order["refunds"] = [{"id": rid, "reason": "", "total": amount} for rid, amount in refunds or []]
    return order


def dumps(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)


def pretty(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, indent=2).encode()
