"""Earning rules: what an order is worth in points, one rule at a time.

Each rule posts under its own idempotency-key segment (``order:<id>:earn:<segment>``), so a rule
can be added without touching what another has posted. The default rule has no segment: its
keys are the ones Vafa wrote before it had rules (``order:<id>:earn``), so existing ledgers keep
their meaning.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Protocol

from app.connectors.base import FinancialState
from app.limits import MAX_POINTS_PER_ORDER
from app.money import from_minor
from app.program.settings import ProgramSettings

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


class Rule(Protocol):
    @property
    def name(self) -> str:
        """Recorded on the rule's ledger transactions (at most 64 characters)."""
        ...

    @property
    def segment(self) -> str | None:
        """The rule's key segment; ``None`` only for the default rule."""
        ...

    def earns(self, order: OrderFacts, settings: ProgramSettings) -> int:
        """Points the paid order earns by this rule before any refund (clamped by the caller)."""
        ...


class PointsPerUnit:
    """The default rule: ``points_per_unit`` per whole unit of merchandise."""

    name = DEFAULT_RULE
    segment = None

    def earns(self, order: OrderFacts, settings: ProgramSettings) -> int:
        return points_for(order.merchandise_minor, order.exponent, settings)


def active_rules(settings: ProgramSettings) -> tuple[Rule, ...]:
    """The rules a shop's program runs; today, the default rule alone."""
    return (PointsPerUnit(),)


def is_earning(order: OrderFacts) -> bool:
    """Does the order earn at all now: known, a member's, paid, not cancelled nor deleted."""
    return (
        order.known
        and order.customer_id is not None
        and order.financial_state == FinancialState.PAID
        and not order.cancelled
        and not order.deleted
    )


def points_for(merchandise_minor: int, exponent: int, settings: ProgramSettings) -> int:
    """Points per whole currency unit, rounded down once per order."""
    if merchandise_minor <= 0:
        return 0
    value = from_minor(merchandise_minor, exponent) * settings.points_per_unit
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


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
    amount = from_minor(minor, exponent)
    text = f"{amount:,.{exponent}f}" if exponent > 0 else f"{Decimal(amount):,.0f}"
    return f"{text} {currency}" if currency else text
