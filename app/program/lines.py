"""Order lines and refunded lines as the order state stores them (JSON columns of ``orders``
and ``order_refunds``), and back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from app.connectors.base import OrderLine, RefundLine


def to_json(lines: Sequence[OrderLine | RefundLine]) -> list[dict[str, Any]]:
    return [asdict(line) for line in lines]


def order_lines(stored: list[dict[str, Any]] | None) -> tuple[OrderLine, ...] | None:
    """``None``: the order was stored before its lines were kept (or is not known yet)."""
    return None if stored is None else tuple(OrderLine(**line) for line in stored)


def refund_lines(stored: list[dict[str, Any]] | None) -> tuple[RefundLine, ...]:
    return () if stored is None else tuple(RefundLine(**line) for line in stored)
