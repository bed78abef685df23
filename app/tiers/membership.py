"""The paid VIP membership (``document.membership``): which order lines buy it and how many
days of the VIP tier a paid order gives, net of its refunded membership lines.

The purchase engine calls :func:`is_membership_line` to leave these lines out of purchase
points: the membership purchase itself earns nothing."""

from __future__ import annotations

from collections.abc import Sequence

from app.connectors.base import OrderLine, RefundLine
from app.program.document import ProgramDocument


def is_membership_line(document: ProgramDocument, line: OrderLine) -> bool:
    """Does ``line`` buy the program's membership (by product id or SKU)?"""
    membership = document.membership
    if membership is None:
        return False
    return (line.product_id is not None and line.product_id in membership.product_ids) or (
        line.sku is not None and line.sku in membership.skus
    )


def membership_minor(
    document: ProgramDocument,
    lines: Sequence[OrderLine],
    refunded: Sequence[RefundLine] | None = None,
) -> int:
    """The merchandise of the order's membership lines (left out of the spending that
    qualifies for a tier, as it is left out of points); with ``refunded``: of those refund
    lines that refund a membership line."""
    ids = {line.line_id for line in lines if is_membership_line(document, line)}
    if refunded is None:
        return sum(line.merchandise_minor for line in lines if is_membership_line(document, line))
    return sum(r.merchandise_minor for r in refunded if r.line_id is not None and r.line_id in ids)


def membership_days(
    document: ProgramDocument, lines: Sequence[OrderLine], refunded: Sequence[RefundLine]
) -> int:
    """Days of the VIP tier the order's lines buy: ``term_days`` per membership unit kept."""
    if document.membership is None:
        return 0
    bought = {line.line_id: line.quantity for line in lines if is_membership_line(document, line)}
    units = sum(bought.values())
    units -= sum(r.quantity for r in refunded if r.line_id is not None and r.line_id in bought)
    return max(units, 0) * document.membership.term_days
