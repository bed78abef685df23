"""Admin GraphQL orders → the same :class:`OrderSnapshot` a webhook body gives (S2, S6).

The reconciliation sweep reads orders with ``orders(query: "updated_at:>…")``, whose shape is
not the webhook's: camelCase, money in ``…Set { shopMoney }`` bags, ids as GIDs, lines and
refund lines as connections. The query and its parser live side by side so that a field read
here is a field asked for there. Merchandise is computed as :mod:`.parse` computes it for a
webhook: price × quantity less the line's discount allocations (less its tax where prices
include tax); a gift card counts 0.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.connectors._json import (
    JsonObj,
    get_amount_minor,
    get_bool,
    get_count,
    get_datetime,
    get_obj,
    get_objs,
    get_str,
    get_text,
    require_currency,
    require_str,
)
from app.connectors.base import (
    FinancialState,
    OrderLine,
    OrderSnapshot,
    RefundLine,
    RefundSnapshot,
)
from app.connectors.shopify.gid import from_gid
from app.connectors.shopify.parse import FINANCIAL_STATES, PAID_STATES
from app.errors import InvalidPayload
from app.limits import MAX_AMOUNT_MINOR, MAX_CODE_LENGTH, MAX_NAME_LENGTH
from app.money import currency_exponent

# Page sizes keep one page's requested cost under Shopify's single-query maximum (1000
# points); an order with more lines or refund lines than a page is completed by follow-up
# queries (ORDER_LINES_QUERY, REFUND_LINES_QUERY). ``refunds`` is a list, not a connection:
# asked without ``first``, it holds them all.
ORDERS_PAGE = 5
LINES_PAGE = 10
REFUND_LINES_PAGE = 5
# Refunded shipping lines per refund read (an order has one shipping line, almost always).
REFUND_SHIPPING_PAGE = 5

_MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"
LINE_FIELDS = f"""
  id quantity sku isGiftCard
  product {{ id }}
  variant {{ id }}
  originalUnitPriceSet {{ {_MONEY} }}
  discountAllocations {{ allocatedAmountSet {{ {_MONEY} }} }}
  taxLines {{ priceSet {{ {_MONEY} }} }}
"""
REFUND_LINE_FIELDS = "lineItem { id } quantity subtotalSet { shopMoney { amount currencyCode } }"

ORDERS_QUERY = f"""
query VafaOrdersModifiedSince($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id name currencyCode presentmentCurrencyCode taxesIncluded displayFinancialStatus
      cancelledAt processedAt updatedAt discountCodes
      customer {{ id }}
      totalShippingPriceSet {{ shopMoney {{ amount currencyCode }} }}
      totalTaxSet {{ shopMoney {{ amount currencyCode }} }}
      lineItems(first: {LINES_PAGE}) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {LINE_FIELDS} }}
      }}
      refunds {{
        id createdAt
        refundLineItems(first: {REFUND_LINES_PAGE}) {{
          pageInfo {{ hasNextPage endCursor }}
          nodes {{ {REFUND_LINE_FIELDS} }}
        }}
        refundShippingLines(first: {REFUND_SHIPPING_PAGE}) {{
          nodes {{ subtotalAmountSet {{ shopMoney {{ amount currencyCode }} }} }}
        }}
      }}
    }}
  }}
}}
"""

ORDER_LINES_QUERY = f"""
query VafaOrderLines($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    lineItems(first: $first, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {LINE_FIELDS} }}
    }}
  }}
}}
"""

REFUND_LINES_QUERY = f"""
query VafaRefundLines($id: ID!, $first: Int!, $after: String) {{
  refund(id: $id) {{
    refundLineItems(first: $first, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {REFUND_LINE_FIELDS} }}
    }}
  }}
}}
"""


def parse_graphql_order(order: JsonObj, exponents: Mapping[str, int]) -> OrderSnapshot:
    """One ``Order`` node, its ``lineItems`` and each refund's ``refundLineItems`` complete
    (the client fetches the pages beyond the first before calling this)."""
    w = "order"
    order_id = _plain_id(order, "id", w)
    currency = require_currency(order, "currencyCode", w)
    exponent = currency_exponent(currency, exponents)
    taxes_included = get_bool(order, "taxesIncluded", w) is True

    line_nodes = connection_nodes(order, "lineItems", w)
    lines = tuple(
        _line(line, f"{w}.lineItems[{i}]", exponent, taxes_included, "shopMoney")
        for i, line in enumerate(line_nodes)
    )
    merchandise = sum(line.merchandise_minor for line in lines)
    if merchandise > MAX_AMOUNT_MINOR:
        raise InvalidPayload("order.lineItems add up to more merchandise than Vafa accepts")

    state = FINANCIAL_STATES.get(
        (get_str(order, "displayFinancialStatus", w) or "").lower(), FinancialState.PENDING
    )
    updated_at = get_datetime(order, "updatedAt", w)
    if updated_at is None:
        raise InvalidPayload("order.updatedAt is missing")
    customer = get_obj(order, "customer", w)
    presentment_currency, presentment_merchandise = _presentment(
        order, line_nodes, exponents, taxes_included
    )
    return OrderSnapshot(
        order_id=order_id,
        name=get_text(order, "name", w, max_length=MAX_NAME_LENGTH),
        customer_id=_plain_id(customer, "id", f"{w}.customer") if customer else None,
        currency=currency,
        exponent=exponent,
        merchandise_minor=merchandise,
        shipping_minor=_shop_money(order, "totalShippingPriceSet", exponent, w) or 0,
        tax_minor=_shop_money(order, "totalTaxSet", exponent, w) or 0,
        financial_state=state,
        cancelled=order.get("cancelledAt") is not None,
        paid_at=get_datetime(order, "processedAt", w) if state in PAID_STATES else None,
        updated_at=updated_at,
        refunds=tuple(
            _refund(refund, order_id, exponent, f"{w}.refunds[{i}]")
            for i, refund in enumerate(get_objs(order, "refunds", w))
        ),
        presentment_currency=presentment_currency,
        presentment_merchandise_minor=presentment_merchandise,
        lines=lines,
        discount_codes=_discount_codes(order, w),
    )


def connection_nodes(obj: JsonObj, field: str, where: str) -> list[JsonObj]:
    """``field { nodes [...] }`` as a list (missing reads as empty)."""
    connection = get_obj(obj, field, where)
    return [] if connection is None else get_objs(connection, "nodes", f"{where}.{field}")


def next_cursor(connection: JsonObj | None, where: str) -> str | None:
    """The cursor after this page when the connection has more, else ``None``."""
    if connection is None:
        return None
    info = get_obj(connection, "pageInfo", where)
    if info is None or get_bool(info, "hasNextPage", f"{where}.pageInfo") is not True:
        return None
    return require_str(info, "endCursor", f"{where}.pageInfo")


def _plain_id(obj: JsonObj, key: str, where: str) -> str:
    return from_gid(require_str(obj, key, where))


def _optional_plain_id(obj: JsonObj, key: str, where: str) -> str | None:
    ref = get_obj(obj, key, where)
    return _plain_id(ref, "id", f"{where}.{key}") if ref else None


def _money(bag: JsonObj | None, which: str, exponent: int, where: str) -> int | None:
    if bag is None:
        return None
    money = get_obj(bag, which, where)
    return None if money is None else get_amount_minor(money, "amount", exponent, where)


def _shop_money(obj: JsonObj, field: str, exponent: int, where: str) -> int | None:
    return _money(get_obj(obj, field, where), "shopMoney", exponent, f"{where}.{field}")


def _line_total(
    line: JsonObj, which: str, exponent: int, quantity: int, taxes_included: bool, lw: str
) -> int | None:
    price = _money(get_obj(line, "originalUnitPriceSet", lw), which, exponent, lw)
    if price is None:
        return None
    total = price * quantity
    for j, allocation in enumerate(get_objs(line, "discountAllocations", lw)):
        aw = f"{lw}.discountAllocations[{j}]"
        total -= _money(get_obj(allocation, "allocatedAmountSet", aw), which, exponent, aw) or 0
    if taxes_included:
        for j, tax in enumerate(get_objs(line, "taxLines", lw)):
            tw = f"{lw}.taxLines[{j}]"
            total -= _money(get_obj(tax, "priceSet", tw), which, exponent, tw) or 0
    return total


def _line(line: JsonObj, lw: str, exponent: int, taxes_included: bool, which: str) -> OrderLine:
    gift_card = get_bool(line, "isGiftCard", lw) is True
    quantity = get_count(line, "quantity", lw, default=1)
    gross = _line_total(line, which, exponent, quantity, taxes_included, lw)
    if gross is None:
        raise InvalidPayload(f"{lw}.originalUnitPriceSet is missing")
    if gross > MAX_AMOUNT_MINOR:
        raise InvalidPayload(f"{lw}: price × quantity is beyond the amounts Vafa accepts")
    return OrderLine(
        line_id=_plain_id(line, "id", lw),
        product_id=_optional_plain_id(line, "product", lw),
        variant_id=_optional_plain_id(line, "variant", lw),
        sku=get_text(line, "sku", lw, max_length=MAX_CODE_LENGTH),
        quantity=quantity,
        merchandise_minor=0 if gift_card else max(gross, 0),
        gift_card=gift_card,
    )


def _refund(refund: JsonObj, order_id: str, exponent: int, where: str) -> RefundSnapshot:
    lines: list[RefundLine] = []
    for i, line in enumerate(connection_nodes(refund, "refundLineItems", where)):
        lw = f"{where}.refundLineItems[{i}]"
        amount = _shop_money(line, "subtotalSet", exponent, lw)
        if amount is None:
            raise InvalidPayload(f"{lw}.subtotalSet is missing")
        line_id = _optional_plain_id(line, "lineItem", lw)
        lines.append(RefundLine(line_id, get_count(line, "quantity", lw, default=0), amount))
    merchandise = sum(line.merchandise_minor for line in lines)
    if merchandise > MAX_AMOUNT_MINOR:
        raise InvalidPayload(f"{where}.refundLineItems add up to more than Vafa accepts")
    shipping = sum(
        _shop_money(line, "subtotalAmountSet", exponent, f"{where}.refundShippingLines[{i}]") or 0
        for i, line in enumerate(connection_nodes(refund, "refundShippingLines", where))
    )
    return RefundSnapshot(
        refund_id=_plain_id(refund, "id", where),
        order_id=order_id,
        merchandise_minor=merchandise,
        shipping_minor=min(shipping, MAX_AMOUNT_MINOR),
        created_at=get_datetime(refund, "createdAt", where),
        lines=tuple(lines),
    )


def _discount_codes(order: JsonObj, where: str) -> tuple[str, ...]:
    codes = order.get("discountCodes")
    if codes is None:
        return ()
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise InvalidPayload(f"{where}.discountCodes must be a list of strings")
    for i, code in enumerate(codes):
        if len(code) > MAX_CODE_LENGTH or "\x00" in code:
            raise InvalidPayload(f"{where}.discountCodes[{i}] is not a code Vafa stores")
    return tuple(code for code in codes if code.strip())


def _presentment(
    order: JsonObj, line_nodes: list[JsonObj], exponents: Mapping[str, int], taxes_included: bool
) -> tuple[str | None, int | None]:
    """What the shopper saw, for display only: anything odd reads as unknown."""
    try:
        if not get_str(order, "presentmentCurrencyCode", "order"):
            return None, None
        currency = require_currency(order, "presentmentCurrencyCode", "order")
        exponent = currency_exponent(currency, exponents)
        total = 0
        for i, line in enumerate(line_nodes):
            lw = f"order.lineItems[{i}]"
            if get_bool(line, "isGiftCard", lw) is True:
                continue
            quantity = get_count(line, "quantity", lw, default=1)
            amount = _line_total(line, "presentmentMoney", exponent, quantity, taxes_included, lw)
            if amount is None:
                return currency, None
            total += max(amount, 0)
    except InvalidPayload:
        return None, None
    return currency, total
