"""Shopify webhook bodies (Admin REST JSON, unwrapped) → neutral snapshots (PLATFORMS.md S2)."""

from __future__ import annotations

from collections.abc import Mapping

from app.connectors._json import (
    JsonObj,
    get_amount_minor,
    get_bool,
    get_count,
    get_datetime,
    get_id,
    get_obj,
    get_objs,
    get_optional_id,
    get_str,
    get_text,
    require_currency,
    require_obj,
)
from app.connectors.base import (
    CustomerSnapshot,
    FinancialState,
    Ignored,
    OrderLine,
    OrderSnapshot,
    RefundLine,
    RefundSnapshot,
    Snapshot,
)
from app.errors import InvalidPayload
from app.limits import (
    MAX_AMOUNT_MINOR,
    MAX_CODE_LENGTH,
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PERSON_NAME_LENGTH,
)
from app.money import currency_exponent
from app.referrals import attribution

ORDER_TOPICS = frozenset(
    {"orders/create", "orders/paid", "orders/updated", "orders/cancelled", "orders/fulfilled"}
)
REFUND_TOPICS = frozenset({"refunds/create"})
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
# Known and accepted; acted on elsewhere (uninstall, GDPR), not by reconciliation.
IGNORED_TOPICS = frozenset(
    {"app/uninstalled", "customers/data_request", "customers/redact", "shop/redact"}
)
TOPICS = ORDER_TOPICS | REFUND_TOPICS | CUSTOMER_TOPICS | IGNORED_TOPICS

_FINANCIAL_STATES = {
    "paid": FinancialState.PAID,
    "partially_refunded": FinancialState.PAID,
    "refunded": FinancialState.REFUNDED,
    "voided": FinancialState.VOIDED,
}  # pending, authorized, partially_paid, expired and anything new: PENDING
# Money changed hands at processed_at (a later refund does not undo that).
_PAID_STATES = frozenset({FinancialState.PAID, FinancialState.REFUNDED})
_DEFAULT_EXPONENT = 2
# The same mapping reads Admin GraphQL orders (graphql_orders.py), lower-cased.
FINANCIAL_STATES, PAID_STATES = _FINANCIAL_STATES, _PAID_STATES


def parse(topic: str, payload: object, exponents: Mapping[str, int]) -> list[Snapshot]:
    if topic in IGNORED_TOPICS:
        return [Ignored(topic)]
    if topic in ORDER_TOPICS:
        return [parse_order(require_obj(payload, "order"), exponents)]
    if topic in REFUND_TOPICS:
        return [parse_refund(require_obj(payload, "refund"), exponents)]
    if topic in CUSTOMER_TOPICS:
        return [parse_customer(require_obj(payload, "customer"))]
    raise InvalidPayload(f"Shopify topic {topic!r} is not one Vafa parses")


def parse_order(order: JsonObj, exponents: Mapping[str, int]) -> OrderSnapshot:
    w = "order"
    order_id = get_id(order, "id", w)
    currency = require_currency(order, "currency", w)
    exponent = currency_exponent(currency, exponents)
    taxes_included = get_bool(order, "taxes_included", w) is True

    # Merchandise is computed from the lines, as a person would: price × quantity less the
    # discounts allocated to the line (order-level codes included), less the line's tax where
    # prices include tax. Gift cards are money, not merchandise, and earn nothing.
    # (subtotal_price is not used: Shopify's own sample order-with-refund reports 597.00 there
    # while carrying 10.00 of discount allocations.)
    lines = tuple(
        _order_line(line, f"{w}.line_items[{i}]", exponent, taxes_included)
        for i, line in enumerate(get_objs(order, "line_items", w))
    )
    merchandise = sum(line.merchandise_minor for line in lines)
    if merchandise > MAX_AMOUNT_MINOR:
        raise InvalidPayload("order.line_items add up to more merchandise than Vafa accepts")

    presentment_currency, presentment_merchandise = _presentment(order, exponents, taxes_included)
    state = _FINANCIAL_STATES.get(
        get_str(order, "financial_status", w) or "", FinancialState.PENDING
    )
    updated_at = get_datetime(order, "updated_at", w)
    if updated_at is None:
        raise InvalidPayload("order.updated_at is missing")
    customer = get_obj(order, "customer", w)
    return OrderSnapshot(
        order_id=order_id,
        name=get_text(order, "name", w, max_length=MAX_NAME_LENGTH),
        customer_id=get_optional_id(customer, "id", f"{w}.customer") if customer else None,
        currency=currency,
        exponent=exponent,
        merchandise_minor=merchandise,
        shipping_minor=shop_amount(order, "total_shipping_price", exponent, w) or 0,
        tax_minor=shop_amount(order, "total_tax", exponent, w) or 0,
        financial_state=state,
        cancelled=order.get("cancelled_at") is not None,
        paid_at=get_datetime(order, "processed_at", w) if state in _PAID_STATES else None,
        updated_at=updated_at,
        refunds=tuple(
            parse_refund(refund, exponents, where=f"{w}.refunds[{i}]", order=(order_id, exponent))
            for i, refund in enumerate(get_objs(order, "refunds", w))
        ),
        presentment_currency=presentment_currency,
        presentment_merchandise_minor=presentment_merchandise,
        lines=lines,
        discount_codes=tuple(
            code
            for i, discount in enumerate(get_objs(order, "discount_codes", w))
            if (
                code := get_text(
                    discount, "code", f"{w}.discount_codes[{i}]", max_length=MAX_CODE_LENGTH
                )
            )
        ),  # fmt: skip
        referral_code=attribution.code_from_attributes(order.get("note_attributes"), "name"),
        contact_keys=_contact_keys(order, customer),
    )


def _contact_keys(order: JsonObj, customer: JsonObj | None) -> tuple[str, ...]:
    shipping, billing = order.get("shipping_address"), order.get("billing_address")
    return attribution.keys_of(
        (order, customer, shipping, billing),
        ("email", "contact_email"),
        ("phone",),
        (
            attribution.address_parts(a, ("address1", "address2"), "city", "zip", "country_code")
            for a in (shipping, billing)
        ),
    )


def parse_refund(
    refund: JsonObj,
    exponents: Mapping[str, int],
    *,
    where: str = "refund",
    order: tuple[str, int] | None = None,
) -> RefundSnapshot:
    """A refunds/create body, or one of an order's embedded ``refunds[]`` (same shape); for
    those, ``order`` is the parent's (id, exponent), used where the refund itself is silent."""
    order_id, fallback_exponent = order if order else (None, _DEFAULT_EXPONENT)
    currency = _refund_currency(refund, where)
    exponent = currency_exponent(currency, exponents) if currency else fallback_exponent

    # A refund line's subtotal is after the line's discounts and excludes its tax.
    lines: list[RefundLine] = []
    for i, line in enumerate(get_objs(refund, "refund_line_items", where)):
        lw = f"{where}.refund_line_items[{i}]"
        amount = shop_amount(line, "subtotal", exponent, lw)
        if amount is None:
            raise InvalidPayload(f"{lw}.subtotal is missing")
        line_id = get_optional_id(line, "line_item_id", lw)
        lines.append(RefundLine(line_id, get_count(line, "quantity", lw, default=0), amount))
    merchandise = sum(line.merchandise_minor for line in lines)
    if merchandise > MAX_AMOUNT_MINOR:
        raise InvalidPayload(f"{where}.refund_line_items add up to more than Vafa accepts")

    # Refunded shipping shows up as a (negative) order adjustment of kind shipping_refund.
    shipping = 0
    for i, adj in enumerate(get_objs(refund, "order_adjustments", where)):
        aw = f"{where}.order_adjustments[{i}]"
        if get_str(adj, "kind", aw) == "shipping_refund":
            shipping += abs(shop_amount(adj, "amount", exponent, aw, signed=True) or 0)
    shipping_obj = get_obj(refund, "shipping", where)
    if shipping_obj is not None:
        shipping += abs(
            get_amount_minor(shipping_obj, "amount", exponent, f"{where}.shipping", signed=True)
            or 0
        )

    refund_order_id = get_optional_id(refund, "order_id", where) or order_id
    if refund_order_id is None:
        raise InvalidPayload(f"{where}.order_id is missing")
    return RefundSnapshot(
        refund_id=get_id(refund, "id", where),
        order_id=refund_order_id,
        merchandise_minor=merchandise,
        shipping_minor=min(shipping, MAX_AMOUNT_MINOR),
        created_at=get_datetime(refund, "created_at", where),
        lines=tuple(lines),
    )


def parse_customer(customer: JsonObj) -> CustomerSnapshot:
    w = "customer"
    consent = get_obj(customer, "email_marketing_consent", w)
    accepts: bool | None
    if consent is not None:  # the current field; accepts_marketing is its deprecated ancestor
        accepts = get_str(consent, "state", f"{w}.email_marketing_consent") == "subscribed"
    else:
        accepts = get_bool(customer, "accepts_marketing", w)
    return CustomerSnapshot(
        customer_id=get_id(customer, "id", w),
        email=get_text(customer, "email", w, max_length=MAX_EMAIL_LENGTH),
        first_name=get_text(customer, "first_name", w, max_length=MAX_PERSON_NAME_LENGTH),
        last_name=get_text(customer, "last_name", w, max_length=MAX_PERSON_NAME_LENGTH),
        birthday=None,  # Shopify's REST customer has no birthday
        accepts_marketing=accepts,
        updated_at=get_datetime(customer, "updated_at", w),
    )


def shop_amount(
    obj: JsonObj, field: str, exponent: int, where: str, *, signed: bool = False
) -> int | None:
    """``<field>_set.shop_money.amount`` (always a string), else the plain ``<field>``."""
    amount = _set_amount(obj, field, "shop_money", exponent, where, signed=signed)
    if amount is not None:
        return amount
    return get_amount_minor(obj, field, exponent, where, signed=signed)


def _set_amount(
    obj: JsonObj, field: str, bag: str, exponent: int, where: str, *, signed: bool = False
) -> int | None:
    money = _money_bag(obj, field, bag, where)
    path = f"{where}.{field}_set.{bag}"
    return (
        None if money is None else get_amount_minor(money, "amount", exponent, path, signed=signed)
    )


def _money_bag(obj: JsonObj, field: str, bag: str, where: str) -> JsonObj | None:
    money_set = get_obj(obj, f"{field}_set", where)
    return None if money_set is None else get_obj(money_set, bag, f"{where}.{field}_set")


def _order_line(line: JsonObj, lw: str, exponent: int, taxes_included: bool) -> OrderLine:
    gift_card = get_bool(line, "gift_card", lw) is True
    quantity = get_count(line, "quantity", lw, default=1)
    gross = _line_total(line, "shop_money", exponent, quantity, taxes_included, lw)
    if gross is None:
        raise InvalidPayload(f"{lw}.price is missing")
    if gross > MAX_AMOUNT_MINOR:
        raise InvalidPayload(f"{lw}: price × quantity is beyond the amounts Vafa accepts")
    return OrderLine(
        line_id=get_optional_id(line, "id", lw),
        product_id=get_optional_id(line, "product_id", lw),
        variant_id=get_optional_id(line, "variant_id", lw),
        sku=get_text(line, "sku", lw, max_length=MAX_CODE_LENGTH),
        quantity=quantity,
        # A line never counts below zero, whatever its discounts say.
        merchandise_minor=0 if gift_card else max(gross, 0),
        gift_card=gift_card,
    )


def _line_total(
    line: JsonObj, bag: str, exponent: int, quantity: int, taxes_included: bool, lw: str
) -> int | None:
    """price × quantity less the line's discounts (and its tax where prices include it), in
    ``bag``'s money; ``None`` when the price is not given in it."""
    price = _amount(line, "price", bag, exponent, lw)
    if price is None:
        return None
    total = price * quantity
    for j, allocation in enumerate(get_objs(line, "discount_allocations", lw)):
        total -= (
            _amount(allocation, "amount", bag, exponent, f"{lw}.discount_allocations[{j}]") or 0
        )
    if taxes_included:
        for j, tax in enumerate(get_objs(line, "tax_lines", lw)):
            total -= _amount(tax, "price", bag, exponent, f"{lw}.tax_lines[{j}]") or 0
    return total


def _presentment(
    order: JsonObj, exponents: Mapping[str, int], taxes_included: bool
) -> tuple[str | None, int | None]:
    """What the shopper saw, for display only: anything absent or odd there reads as unknown
    and never rejects an order (the shop-money figures decide the points)."""
    try:
        code = get_str(order, "presentment_currency", "order")
        if not code:
            return None, None
        currency = require_currency(order, "presentment_currency", "order")
        exponent = currency_exponent(currency, exponents)
        total = 0
        for i, line in enumerate(get_objs(order, "line_items", "order")):
            lw = f"order.line_items[{i}]"
            if get_bool(line, "gift_card", lw) is True:
                continue
            quantity = get_count(line, "quantity", lw, default=1)
            amount = _line_total(line, "presentment_money", exponent, quantity, taxes_included, lw)
            if amount is None:
                return currency, None
            total += max(amount, 0)
    except InvalidPayload:
        return None, None
    return currency, total


def _amount(obj: JsonObj, field: str, bag: str, exponent: int, where: str) -> int | None:
    if bag == "shop_money":
        return shop_amount(obj, field, exponent, where)
    # Display only: no plain-field fallback, which is in shop currency.
    return _set_amount(obj, field, bag, exponent, where)


def _refund_currency(refund: JsonObj, where: str) -> str | None:
    """The shop currency of a refund. Money bags name it exactly; a transaction's ``currency``
    is the currency the shopper paid in, so it is only the last resort."""
    for field, items in (("subtotal", "refund_line_items"), ("amount", "order_adjustments")):
        for i, item in enumerate(get_objs(refund, items, where)):
            iw = f"{where}.{items}[{i}]"
            money = _money_bag(item, field, "shop_money", iw)
            code = (
                get_str(money, "currency_code", f"{iw}.{field}_set.shop_money") if money else None
            )
            if code:
                return code.upper()
    for i, tx in enumerate(get_objs(refund, "transactions", where)):
        code = get_str(tx, "currency", f"{where}.transactions[{i}]")
        if code:
            return code.upper()
    return None
