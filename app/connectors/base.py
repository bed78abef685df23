"""The connector interface and the platform-neutral snapshots it produces.

A snapshot is the newest known state of one platform resource. The program reconciles the
ledger against it; it never counts events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar, Protocol


class Platform(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"


class FinancialState(StrEnum):
    """Where an order's payment stands, as far as earning points goes."""

    PENDING = "pending"  # not paid (yet): earns nothing
    PAID = "paid"  # paid, possibly partly refunded: earns
    REFUNDED = "refunded"  # fully refunded: earns nothing
    VOIDED = "voided"  # authorisation voided / failed: earns nothing


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of an order. ``merchandise_minor`` is the line's price × quantity after the
    discounts allocated to it, without tax, in shop-currency minor units; a gift card is money,
    not merchandise, and counts 0. The lines' merchandise sums to the order's."""

    line_id: str | None
    product_id: str | None
    variant_id: str | None
    sku: str | None
    quantity: int
    merchandise_minor: int
    gift_card: bool = False


@dataclass(frozen=True, slots=True)
class RefundLine:
    """One refunded line: ``line_id`` is the order line's id; the lines' merchandise sums to the
    refund's."""

    line_id: str | None
    quantity: int
    merchandise_minor: int


@dataclass(frozen=True, slots=True)
class RefundSnapshot:
    refund_id: str
    order_id: str
    # Refunded merchandise after discounts, without tax and shipping, in shop-currency minor units.
    merchandise_minor: int
    shipping_minor: int
    created_at: datetime | None
    # Per line where the platform says (Shopify); WooCommerce's order body gives totals only.
    lines: tuple[RefundLine, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    order_id: str
    name: str | None  # what the shop shows, e.g. "#1001"
    customer_id: str | None  # None for a guest order
    currency: str  # shop currency
    exponent: int
    # Merchandise after discounts, excluding shipping and tax, before any refund (minor units).
    merchandise_minor: int
    shipping_minor: int
    tax_minor: int
    financial_state: FinancialState
    cancelled: bool
    paid_at: datetime | None
    updated_at: datetime
    refunds: tuple[RefundSnapshot, ...] = ()
    # What the shopper saw, for display only (Shopify presentment money).
    presentment_currency: str | None = None
    presentment_merchandise_minor: int | None = None
    # WooCommerce order.restored: the order came back from the trash.
    restored: bool = False
    lines: tuple[OrderLine, ...] = ()
    # The discount codes the shopper used (Shopify discount_codes, WooCommerce coupon_lines).
    discount_codes: tuple[str, ...] = ()
    # A referral code set as an order attribute ``vafa_ref`` (Shopify note_attributes,
    # WooCommerce meta_data), upper case, and the buyer's contact details as comparison keys
    # (app/referrals/contact.py), never the details themselves.
    referral_code: str | None = None
    contact_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderDeleted:
    """WooCommerce order.deleted (moved to the trash): the body carries only the id."""

    order_id: str


@dataclass(frozen=True, slots=True)
class CustomerSnapshot:
    customer_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    birthday: date | None
    accepts_marketing: bool | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class Ignored:
    """A topic Vafa accepts but does not act on (yet)."""

    topic: str


Snapshot = OrderSnapshot | RefundSnapshot | OrderDeleted | CustomerSnapshot | Ignored


@dataclass(frozen=True, slots=True)
class WebhookHeaders:
    """What intake needs from a delivery's headers, normalised per platform."""

    topic: str
    signature: str | None
    shop_domain: str | None = None  # Shopify: X-Shopify-Shop-Domain
    event_id: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


class Connector(Protocol):
    """What every platform package provides. Pure functions: no I/O."""

    platform: ClassVar[Platform]

    def topics(self) -> frozenset[str]:
        """Topics this connector turns into snapshots; any other topic is stored as ignored."""
        ...

    def verify_signature(self, raw_body: bytes, signature: str | None, secrets: list[str]) -> bool:
        """Constant-time check of the delivery's signature against the current or previous
        secret."""
        ...

    def dedupe_key(self, topic: str, raw_body: bytes, headers: WebhookHeaders) -> str:
        """A key equal for two deliveries of the same event (raises InvalidPayload for a body
        that cannot be what the topic promises)."""
        ...

    def parse(self, topic: str, payload: object, exponents: Mapping[str, int]) -> list[Snapshot]:
        """Turn a decoded webhook body into snapshots (raises InvalidPayload)."""
        ...
