"""WooCommerce webhook bodies (REST v3 resources) → neutral snapshots (PLATFORMS.md W1)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime

from app.connectors._json import (
    JsonObj,
    get_amount_minor,
    get_count,
    get_datetime,
    get_id,
    get_objs,
    get_optional_id,
    get_str,
    get_text,
    require_amount_minor,
    require_currency,
    require_obj,
)
from app.connectors.base import (
    CustomerSnapshot,
    FinancialState,
    Ignored,
    OrderDeleted,
    OrderLine,
    OrderSnapshot,
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

ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
CUSTOMER_TOPICS = frozenset({"customer.created", "customer.updated"})
_EVENTS = ("created", "updated", "deleted", "restored")
IGNORED_TOPICS = frozenset(
    {"customer.deleted"}
    | {f"{resource}.{event}" for resource in ("coupon", "product") for event in _EVENTS}
)
TOPICS = ORDER_TOPICS | CUSTOMER_TOPICS | {"order.deleted"} | IGNORED_TOPICS
# Custom action.* topics are accepted but not acted on; their body is {"action", "arg"}.
_IGNORED_PREFIXES = ("action.", "coupon.", "product.")

_STATUSES = {
    "processing": FinancialState.PAID,
    "completed": FinancialState.PAID,
    "refunded": FinancialState.REFUNDED,
    "cancelled": FinancialState.VOIDED,
    "failed": FinancialState.VOIDED,
}  # pending, on-hold, checkout-draft, trash and anything custom: PENDING
_BIRTHDAY_KEYS = frozenset({"birthday", "billing_birthdate"})


def parse(topic: str, payload: object, exponents: Mapping[str, int]) -> list[Snapshot]:
    if topic in IGNORED_TOPICS or topic.startswith(_IGNORED_PREFIXES):
        return [Ignored(topic)]
    if topic in ORDER_TOPICS:
        order = require_obj(payload, "order")
        return [parse_order(order, exponents, restored=topic == "order.restored")]
    if topic == "order.deleted":  # moved to the trash; the body is {"id": N}
        return [OrderDeleted(get_id(require_obj(payload, "order"), "id", "order"))]
    if topic in CUSTOMER_TOPICS:
        return [parse_customer(require_obj(payload, "customer"))]
    raise InvalidPayload(f"WooCommerce topic {topic!r} is not one Vafa parses")


def parse_order(
    order: JsonObj, exponents: Mapping[str, int], *, restored: bool = False
) -> OrderSnapshot:
    w = "order"
    order_id = get_id(order, "id", w)
    currency = require_currency(order, "currency", w)
    exponent = currency_exponent(currency, exponents)
    lines = tuple(
        _order_line(line, exponent, f"{w}.line_items[{i}]")
        for i, line in enumerate(get_objs(order, "line_items", w))
    )
    merchandise = sum(line.merchandise_minor for line in lines)
    if merchandise > MAX_AMOUNT_MINOR:
        raise InvalidPayload("order.line_items add up to more merchandise than Vafa accepts")
    # The original grand total: WooCommerce does not lower it when refunding.
    order_total = require_amount_minor(order, "total", exponent, w)
    status = get_str(order, "status", w) or ""
    customer_id = get_optional_id(order, "customer_id", w)
    updated_at = _gmt_or_local(order, "date_modified", w)
    if updated_at is None:
        raise InvalidPayload("order.date_modified_gmt is missing")
    return OrderSnapshot(
        order_id=order_id,
        name=f"#{number}"
        if (number := get_text(order, "number", w, max_length=MAX_NAME_LENGTH - 1))
        else None,
        customer_id=None if customer_id == "0" else customer_id,  # 0 is a guest
        currency=currency,
        exponent=exponent,
        merchandise_minor=merchandise,
        shipping_minor=get_amount_minor(order, "shipping_total", exponent, w) or 0,
        tax_minor=get_amount_minor(order, "total_tax", exponent, w) or 0,
        financial_state=_STATUSES.get(status, FinancialState.PENDING),
        cancelled=status == "cancelled",
        paid_at=_gmt_or_local(order, "date_paid", w),
        updated_at=updated_at,
        refunds=tuple(
            _parse_refund(refund, order_id, merchandise, order_total, exponent, f"{w}.refunds[{i}]")
            for i, refund in enumerate(get_objs(order, "refunds", w))
        ),
        restored=restored,
        lines=lines,
        discount_codes=tuple(
            code
            for i, coupon in enumerate(get_objs(order, "coupon_lines", w))
            if (
                code := get_text(
                    coupon, "code", f"{w}.coupon_lines[{i}]", max_length=MAX_CODE_LENGTH
                )
            )
        ),  # fmt: skip
        referral_code=attribution.code_from_attributes(order.get("meta_data"), "key"),
        contact_keys=_contact_keys(order),
    )


def _contact_keys(order: JsonObj) -> tuple[str, ...]:
    billing, shipping = order.get("billing"), order.get("shipping")
    return attribution.keys_of(
        (billing, shipping),
        ("email",),
        ("phone",),
        (
            attribution.address_parts(a, ("address_1", "address_2"), "city", "postcode", "country")
            for a in (shipping, billing)
        ),
    )


def _order_line(line: JsonObj, exponent: int, lw: str) -> OrderLine:
    """A line's total is after its discounts and excludes tax, even in a tax-inclusive shop.
    Core WooCommerce has no gift cards (plugins sell them as products)."""
    return OrderLine(
        line_id=get_optional_id(line, "id", lw),
        product_id=_nonzero_id(line, "product_id", lw),
        variant_id=_nonzero_id(line, "variation_id", lw),
        sku=get_text(line, "sku", lw, max_length=MAX_CODE_LENGTH),
        quantity=_quantity(line, lw),
        merchandise_minor=require_amount_minor(line, "total", exponent, lw),
    )


def _quantity(line: JsonObj, lw: str) -> int:
    """Core WooCommerce counts whole units; a plugin selling by weight sends ``1.5``, counted
    here in whole units, rounded down (the line's total, not its quantity, is its merchandise)."""
    value = line.get("quantity")
    if isinstance(value, float) and value >= 0:
        return get_count({"quantity": math.floor(value)}, "quantity", lw, default=1)
    return get_count(line, "quantity", lw, default=1)


def _nonzero_id(obj: JsonObj, key: str, where: str) -> str | None:
    """WooCommerce writes 0 for "none" (a simple product's variation, a deleted product)."""
    value = get_optional_id(obj, key, where)
    return None if value == "0" else value


def _parse_refund(
    refund: JsonObj, order_id: str, merchandise: int, order_total: int, exponent: int, where: str
) -> RefundSnapshot:
    """The order body gives a refund only as a grand total (tax and shipping included), so the
    merchandise share is the refund's share of the order total, rounded down."""
    refunded = abs(require_amount_minor(refund, "total", exponent, where, signed=True))
    share = merchandise * refunded // order_total if order_total > 0 else 0
    return RefundSnapshot(
        refund_id=get_id(refund, "id", where),
        order_id=order_id,
        merchandise_minor=max(min(share, merchandise), 0),
        shipping_minor=0,
        created_at=None,
    )


def parse_customer(customer: JsonObj) -> CustomerSnapshot:
    w = "customer"
    return CustomerSnapshot(
        customer_id=get_id(customer, "id", w),
        email=get_text(customer, "email", w, max_length=MAX_EMAIL_LENGTH),
        first_name=get_text(customer, "first_name", w, max_length=MAX_PERSON_NAME_LENGTH),
        last_name=get_text(customer, "last_name", w, max_length=MAX_PERSON_NAME_LENGTH),
        birthday=_birthday(customer),
        accepts_marketing=None,  # core WooCommerce records no marketing consent
        updated_at=_gmt_or_local(customer, "date_modified", w),
    )


def _gmt_or_local(obj: JsonObj, field: str, where: str) -> datetime | None:
    """``<field>_gmt`` is UTC without an offset. The plain field is the site's local time, zone
    unknown; it is read as UTC only when the GMT one is missing (REST v3 always sends both)."""
    gmt = get_datetime(obj, f"{field}_gmt", where, assume_utc=True)
    return gmt if gmt is not None else get_datetime(obj, field, where, assume_utc=True)


def _birthday(customer: JsonObj) -> date | None:
    """A birthday stored by a plugin in meta_data; anything not an ISO date is ignored, since
    plugins disagree on formats and a bad one must not reject the customer."""
    for meta in get_objs(customer, "meta_data", "customer"):
        value = meta.get("value")
        if meta.get("key") in _BIRTHDAY_KEYS and isinstance(value, str):
            try:
                return date.fromisoformat(value.strip()[:10])
            except ValueError:
                continue
    return None
