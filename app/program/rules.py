"""The default earning rule: what a sum of merchandise is worth in points."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from app.money import from_minor
from app.program.settings import ProgramSettings

DEFAULT_RULE = "default:points_per_unit"


def points_for(merchandise_minor: int, exponent: int, settings: ProgramSettings) -> int:
    """Points per whole currency unit, rounded down once per order."""
    if merchandise_minor <= 0:
        return 0
    value = from_minor(merchandise_minor, exponent) * settings.points_per_unit
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def remaining_points(earned: int, merchandise_minor: int, refunded_minor: int) -> int:
    """Points an order keeps after refunds of ``refunded_minor`` of its merchandise: in
    proportion, rounded down, so refunds together never reverse more than was earned and a full
    refund leaves exactly zero."""
    if merchandise_minor <= 0:
        return 0
    kept = max(merchandise_minor - refunded_minor, 0)
    return earned * kept // merchandise_minor


def format_money(minor: int, exponent: int, currency: str | None) -> str:
    amount = from_minor(minor, exponent)
    text = f"{amount:,.{exponent}f}" if exponent > 0 else f"{Decimal(amount):,.0f}"
    return f"{text} {currency}" if currency else text
