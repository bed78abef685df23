"""Order lines and refunded lines as the order state stores them (JSON columns of ``orders``
and ``order_refunds``), and back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from app.connectors.base import OrderLine, RefundLine

# The lines' fields are flat values: read by name, not by dataclasses.asdict's deep copy (which
# took 4 % of the worker's time per order).
_NAMES = {kind: tuple(f.name for f in fields(kind)) for kind in (OrderLine, RefundLine)}


def to_json(lines: Sequence[OrderLine | RefundLine]) -> list[dict[str, Any]]:
    return [{name: getattr(line, name) for name in _NAMES[type(line)]} for line in lines]


def order_lines(stored: list[dict[str, Any]] | None) -> tuple[OrderLine, ...] | None:
    """``None``: the order was stored before its lines were kept (or is not known yet)."""
    return None if stored is None else tuple(OrderLine(**line) for line in stored)


def refund_lines(stored: list[dict[str, Any]] | None) -> tuple[RefundLine, ...]:
    return () if stored is None else tuple(RefundLine(**line) for line in stored)
