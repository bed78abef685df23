"""The lift report: what the club's members did against the holdout over a period.

Who is compared: the customers the holdout placed by chance — ``member`` (hashed into the club)
against ``holdout`` (hashed out of it and not released by the period's end). Customers who had
points before the holdout first saw them (``enrolled``), or who left the holdout by the
period's end, were not placed by chance over the whole period and are left out.

Of each group, the customers with at least one paid order in the period (paid in it, neither
cancelled nor deleted; merchandise net of its refunds, as the daily report counts revenue):

- **repeat rate**: the share of them with two paid orders or more in the period;
- **revenue per customer**: their net merchandise in the period ÷ their number (minor units,
  a ``Decimal``).

Each difference (members − holdout) comes with its 95 % interval (``app/holdout/stats.py``:
two-proportion normal interval; Welch's t interval). The verdict, in this order:

1. ``too_small`` — fewer than 30 customers in either group (and, for the rate, fewer than 5
   who repeated or 5 who did not in either: the normal interval needs them): too few to say;
2. ``no_difference`` — the interval spans zero: no measurable difference yet;
3. ``members_higher`` / ``members_lower`` — the interval is wholly above / below zero.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.holdout import stats
from app.holdout.models import Cohort, HoldoutAssignment
from app.program.models import Order, OrderRefund

MIN_CUSTOMERS = 30  # per group
MIN_OUTCOMES = 5  # repeaters and non-repeaters per group, for the rate's normal interval

TOO_SMALL = "too_small"
NO_DIFFERENCE = "no_difference"
HIGHER = "members_higher"
LOWER = "members_lower"

_RATE = Decimal("0.0001")
_MINOR = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class GroupFigures:
    customers: int
    repeat_customers: int
    revenue_minor: int
    squares: int  # Σ revenue², for the variance

    @property
    def repeat_rate(self) -> Decimal | None:
        return None if self.customers == 0 else Decimal(self.repeat_customers) / self.customers

    @property
    def revenue_per_customer_minor(self) -> Decimal | None:
        return None if self.customers == 0 else Decimal(self.revenue_minor) / self.customers

    def as_json(self) -> dict[str, Any]:
        rate, revenue = self.repeat_rate, self.revenue_per_customer_minor
        return {
            "customers": self.customers,
            "repeat_customers": self.repeat_customers,
            "repeat_rate": None if rate is None else str(rate.quantize(_RATE, ROUND_HALF_EVEN)),
            "revenue_minor": self.revenue_minor,
            "revenue_per_customer_minor": None
            if revenue is None
            else str(revenue.quantize(_MINOR, ROUND_HALF_EVEN)),
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    verdict: str
    message: str
    interval: stats.Interval | None
    places: Decimal

    def as_json(self) -> dict[str, Any]:
        i = self.interval

        def shown(v: Decimal) -> str:
            return str(v.quantize(self.places, ROUND_HALF_EVEN))

        return {
            "difference": None if i is None else shown(i.difference),
            "ci95_low": None if i is None else shown(i.low),
            "ci95_high": None if i is None else shown(i.high),
            "verdict": self.verdict,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Lift:
    start: date
    end: date
    members: GroupFigures
    holdout: GroupFigures
    repeat_rate: Comparison
    revenue: Comparison

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "members": self.members.as_json(),
            "holdout": self.holdout.as_json(),
            "repeat_rate": {**self.repeat_rate.as_json(),
                            "method": "two-proportion normal (Wald) 95% interval"},
            "revenue_per_customer_minor": {**self.revenue.as_json(),
                                           "method": "Welch's t 95% interval"},
            "min_customers_per_group": MIN_CUSTOMERS,
        }  # fmt: skip


def _too_few(m: GroupFigures, h: GroupFigures) -> str | None:
    if m.customers < MIN_CUSTOMERS or h.customers < MIN_CUSTOMERS:
        return (
            f"sample too small to say: {m.customers} members and {h.customers} holdout "
            f"customers bought in the period; at least {MIN_CUSTOMERS} of each are needed"
        )
    return None


def _judged(interval: stats.Interval, what: str, places: Decimal) -> Comparison:
    if interval.spans_zero:
        return Comparison(NO_DIFFERENCE, f"no measurable difference yet in {what}", interval,
                          places)  # fmt: skip
    verdict = HIGHER if interval.low > 0 else LOWER
    side = "higher" if verdict == HIGHER else "lower"
    return Comparison(verdict, f"members' {what} is {side} than the holdout's", interval, places)


def compare_rates(m: GroupFigures, h: GroupFigures) -> Comparison:
    if (why := _too_few(m, h)) is not None:
        return Comparison(TOO_SMALL, why, None, _RATE)
    for g in (m, h):
        if min(g.repeat_customers, g.customers - g.repeat_customers) < MIN_OUTCOMES:
            return Comparison(
                TOO_SMALL,
                f"sample too small to say: each group needs at least {MIN_OUTCOMES} customers "
                "who bought again and as many who did not",
                None,
                _RATE,
            )
    interval = stats.two_proportions(
        m.repeat_customers, m.customers, h.repeat_customers, h.customers
    )
    return _judged(interval, "repeat rate", _RATE)


def compare_revenue(m: GroupFigures, h: GroupFigures) -> Comparison:
    if (why := _too_few(m, h)) is not None:
        return Comparison(TOO_SMALL, why, None, _MINOR)
    interval, _df = stats.welch(
        stats.Sample(m.customers, m.revenue_minor, m.squares),
        stats.Sample(h.customers, h.revenue_minor, h.squares),
    )
    return _judged(interval, "revenue per customer", _MINOR)


def figures(per_customer: dict[str, tuple[int, int]]) -> GroupFigures:
    """A group's figures from each customer's (paid orders, net revenue)."""
    revenues = [revenue for _, revenue in per_customer.values()]
    return GroupFigures(
        customers=len(per_customer),
        repeat_customers=sum(1 for orders, _ in per_customer.values() if orders >= 2),
        revenue_minor=sum(revenues),
        squares=sum(r * r for r in revenues),
    )


async def lift(
    session: AsyncSession, shop_id: int, first: date, last: date, start: datetime, end: datetime
) -> Lift:
    """The lift over the days ``first``..``last`` (``start``/``end``: their bounds in UTC)."""
    a = HoldoutAssignment
    refunded = (
        select(OrderRefund.order_id, func.sum(OrderRefund.merchandise_minor).label("minor"))
        .where(OrderRefund.shop_id == shop_id)
        .group_by(OrderRefund.order_id)
        .subquery()
    )
    rows = await session.execute(
        select(a.cohort, Order.customer_id, Order.merchandise_minor,
               func.coalesce(refunded.c.minor, 0))
        .join(a, (a.shop_id == Order.shop_id) & (a.customer_id == Order.customer_id))
        .outerjoin(refunded, refunded.c.order_id == Order.order_id)
        .where(
            Order.shop_id == shop_id, a.shop_id == shop_id, Order.known.is_(True),
            Order.paid_at >= start, Order.paid_at < end, Order.cancelled.is_(False),
            Order.deleted.is_(False), a.cohort.in_(Cohort.COMPARED),
            or_(a.released_at.is_(None), a.released_at >= end),
        )
    )  # fmt: skip
    groups: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for cohort, customer_id, merchandise, refunds in rows:
        orders, revenue = groups[cohort].get(customer_id, (0, 0))
        net = max(int(merchandise) - int(refunds), 0)
        groups[cohort][customer_id] = (orders + 1, revenue + net)
    members, holdout = figures(groups[Cohort.MEMBER]), figures(groups[Cohort.HOLDOUT])
    return Lift(first, last, members, holdout, compare_rates(members, holdout),
                compare_revenue(members, holdout))  # fmt: skip


CSV_HEADER = ("metric", "members", "holdout", "difference", "ci95_low", "ci95_high", "verdict")


_NUMBERS = frozenset(
    {"repeat_rate", "revenue_per_customer_minor", "difference", "ci95_low", "ci95_high"}
)


def _numbers(figures: dict[str, Any]) -> dict[str, Any]:
    # Decimals, not strings: a CSV cell "-0.05" would be taken for a formula and quoted.
    return {k: Decimal(v) if k in _NUMBERS and v is not None else v for k, v in figures.items()}


def csv_rows(found: Lift) -> list[tuple[Any, ...]]:
    data = {k: _numbers(v) if isinstance(v, dict) else v for k, v in found.as_json().items()}
    m, h = data["members"], data["holdout"]
    rate, revenue = data["repeat_rate"], data["revenue_per_customer_minor"]
    return [
        CSV_HEADER,
        ("customers", m["customers"], h["customers"], "", "", "", ""),
        ("repeat_customers", m["repeat_customers"], h["repeat_customers"], "", "", "", ""),
        ("repeat_rate", m["repeat_rate"], h["repeat_rate"], rate["difference"],
         rate["ci95_low"], rate["ci95_high"], rate["verdict"]),
        ("revenue_per_customer_minor", m["revenue_per_customer_minor"],
         h["revenue_per_customer_minor"], revenue["difference"], revenue["ci95_low"],
         revenue["ci95_high"], revenue["verdict"]),
    ]  # fmt: skip
