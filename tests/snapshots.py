"""Neutral snapshots for tests that drive the program below the connectors."""

from __future__ import annotations

from datetime import datetime

from app.connectors.base import FinancialState, OrderLine, OrderSnapshot

_NAMED = object()


def paid_order(
    order_id: str,
    *,
    customer: str,
    merchandise: int,
    paid_at: datetime,
    updated_at: datetime | None = None,
    cancelled: bool = False,
    name: str | None | object = _NAMED,
) -> OrderSnapshot:
    """A paid USD order of ``merchandise`` cents (10_000 earns 100 points) on one line, named
    "#<id>" unless a name (or None) is given."""
    return OrderSnapshot(
        order_id=order_id,
        name=f"#{order_id}" if name is _NAMED else name,  # type: ignore[arg-type]
        customer_id=customer,
        currency="USD",
        exponent=2,
        merchandise_minor=merchandise,
        shipping_minor=0,
        tax_minor=0,
        financial_state=FinancialState.PAID,
        cancelled=cancelled,
        paid_at=paid_at,
        updated_at=updated_at or paid_at,
        lines=(OrderLine(f"{order_id}-1", "p1", None, None, 1, merchandise),),
    )
