"""What every earning rule shares: the order facts it reads, whether an order earns at all,
refunds in proportion, and money written as a person reads it. The rules themselves are the
program document's, run by :mod:`app.program.engine`.

Each rule posts under its own idempotency-key segment (``order:<id>:earn:<segment>``), so a rule
can be added without touching what another has posted. The rule keyed ``purchase`` has no
segment and is recorded as ``DEFAULT_RULE``: its keys are the ones Vafa wrote before it had
rules (``order:<id>:earn``), so existing ledgers keep their meaning.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from app.connectors.base import FinancialState
from app.limits import MAX_POINTS_PER_ORDER
from app.money import CURRENCY_NAMES, from_minor

DEFAULT_RULE = "default:points_per_unit"


class OrderFacts(Protocol):
    """What the rules read of an order's state (``reconcile.OrderState`` is one)."""

    @property
    def order_id(self) -> str: ...
    @property
    def known(self) -> bool: ...
    @property
    def customer_id(self) -> str | None: ...
    @property
    def exponent(self) -> int: ...
    @property
    def merchandise_minor(self) -> int: ...
    @property
    def financial_state(self) -> str: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def deleted(self) -> bool: ...
    @property
    def paid_at(self) -> datetime | None: ...
    @property
    def source_updated_at(self) -> datetime | None: ...


def is_earning(order: OrderFacts) -> bool:
    """Does the order earn at all now: known, a member's, paid, not cancelled nor deleted."""
    return (
        order.known
        and order.customer_id is not None
        and order.financial_state == FinancialState.PAID
        and not order.cancelled
        and not order.deleted
    )


def remaining_points(earned: int, merchandise_minor: int, refunded_minor: int) -> int:
    """Points an order keeps after refunds of ``refunded_minor`` of its merchandise: in
    proportion, rounded down, so refunds together never reverse more than was earned and a full
    refund leaves exactly zero. Never more than ``earned``, never below zero."""
    if merchandise_minor <= 0 or earned <= 0:
        return 0
    kept = min(max(merchandise_minor - refunded_minor, 0), merchandise_minor)
    return earned * kept // merchandise_minor


def clamp_points(points: int) -> int:
    """A rule's points for one order, within [0, MAX_POINTS_PER_ORDER]."""
    return min(max(points, 0), MAX_POINTS_PER_ORDER)


def format_money(minor: int, exponent: int, currency: str | None) -> str:
    """``"500,000 Toman"``, ``"181.09 USD"``: the amount as a person reads it."""
    amount = from_minor(minor, exponent)
    text = f"{amount:,.{exponent}f}" if exponent > 0 else f"{Decimal(amount):,.0f}"
    if not currency:
        return text
    return f"{text} {CURRENCY_NAMES.get(currency.upper(), currency)}"
