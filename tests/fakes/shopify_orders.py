"""Orders in Admin GraphQL's shape, made from a webhook body (REST JSON): what Shopify's
``orders`` query answers for the same order. The fake store keeps its orders this way."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

_GID = "gid://shopify/"


def gid(kind: str, plain: object) -> str:
    text = str(plain)
    return text if text.startswith(_GID) else f"{_GID}{kind}/{text}"


def _bag(
    money_set: dict[str, Any] | None, fallback: str | None = None, currency: str = "USD"
) -> dict[str, Any]:
    if money_set:
        return {
            which: {
                "amount": str(money_set[rest]["amount"]),
                "currencyCode": money_set[rest]["currency_code"],
            }
            for which, rest in (
                ("shopMoney", "shop_money"),
                ("presentmentMoney", "presentment_money"),
            )
        }
    money = {"amount": str(fallback or "0.00"), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": money}


def order_from_webhook(rest: dict[str, Any]) -> dict[str, Any]:
    """The Admin GraphQL shape of the order a webhook body (REST JSON) describes: what the sweep
    query gets back from Shopify for the same order."""
    currency = rest["currency"]
    customer = rest.get("customer")

    def line(item: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": gid("LineItem", item["id"]),
            "quantity": item["quantity"],
            "sku": item.get("sku"),
            "isGiftCard": bool(item.get("gift_card")),
            "product": {"id": gid("Product", item["product_id"])}
            if item.get("product_id")
            else None,
            "variant": {"id": gid("ProductVariant", item["variant_id"])}
            if item.get("variant_id")
            else None,
            "originalUnitPriceSet": _bag(item.get("price_set"), item.get("price"), currency),
            "discountAllocations": [
                {"allocatedAmountSet": _bag(a.get("amount_set"), a.get("amount"), currency)}
                for a in item.get("discount_allocations") or []
            ],
            "taxLines": [
                {"priceSet": _bag(t.get("price_set"), t.get("price"), currency)}
                for t in item.get("tax_lines") or []
            ],
        }

    def refund(item: dict[str, Any]) -> dict[str, Any]:
        shipping = [
            {"subtotalAmountSet": _bag(None, str(abs(Decimal(str(a["amount"])))), currency)}
            for a in item.get("order_adjustments") or []
            if a.get("kind") == "shipping_refund"
        ]
        return {
            "id": gid("Refund", item["id"]),
            "createdAt": item.get("created_at"),
            "refundLineItems": [
                {
                    "lineItem": {"id": gid("LineItem", r["line_item_id"])},
                    "quantity": r["quantity"],
                    "subtotalSet": _bag(r.get("subtotal_set"), r.get("subtotal"), currency),
                }
                for r in item.get("refund_line_items") or []
            ],
            "refundShippingLines": shipping,
        }

    return {
        "id": gid("Order", rest["id"]),
        "name": rest.get("name"),
        "currencyCode": currency,
        "presentmentCurrencyCode": rest.get("presentment_currency") or currency,
        "taxesIncluded": bool(rest.get("taxes_included")),
        "displayFinancialStatus": (rest.get("financial_status") or "pending").upper(),
        "cancelledAt": rest.get("cancelled_at"),
        "processedAt": rest.get("processed_at"),
        "createdAt": rest.get("created_at"),
        "updatedAt": rest["updated_at"],
        "discountCodes": [d["code"] for d in rest.get("discount_codes") or []],
        "customer": {"id": gid("Customer", customer["id"])} if customer else None,
        "totalShippingPriceSet": _bag(rest.get("total_shipping_price_set"), None, currency),
        "totalTaxSet": _bag(rest.get("total_tax_set"), rest.get("total_tax"), currency),
        "lineItems": [line(item) for item in rest.get("line_items") or []],
        "refunds": [refund(item) for item in rest.get("refunds") or []],
    }
