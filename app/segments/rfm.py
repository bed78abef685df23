"""RFM: each member's recency, frequency and monetary value, scored 1–5 within the shop and
named. Pure: the figures come in (``service.member_facts`` reads them from the orders Vafa
stores), the scores and names go out.

The figures, as of the refresh's time ``now``, over the member's *paid orders* (paid, not
cancelled nor deleted, a member's; backfilled orders count: they are purchases too), each at
its paid time (else its snapshot's time), only those at or before ``now``:

- **recency**: whole days since the member's last paid order (any time);
- **frequency**: paid orders within the window, the :data:`WINDOW_DAYS` days up to ``now``;
- **monetary**: their merchandise (minor units, after discounts, without shipping and tax),
  less what their refunds gave back.

Only members with at least one paid order are scored. A score is the figure's quantile within
the shop's scored members: ``1 + ⌊5 × below / n⌋``, where ``n`` is how many members are scored
and ``below`` how many of them have a strictly worse figure (for recency: more days; for
frequency and monetary: less). Equal figures score the same; the best figures score 5 once
there are five members or more.

The names, first that fits (a member no name fits, a middling one, has no RFM segment):

=============  =====================================================================
high_value     R ≥ 4, F ≥ 4 and M ≥ 4
loyal          F ≥ 4 and R ≥ 3
new            first paid order within the last :data:`NEW_DAYS` days
at_risk        R ≤ 2 and (F ≥ 3 or M ≥ 3): bought much, not lately
hibernating    R ≤ 2: bought little, not lately
=============  =====================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW_DAYS = 365
NEW_DAYS = 30
RFM_SEGMENTS = ("high_value", "loyal", "new", "at_risk", "hibernating")


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What the segments know of a member at a refresh (``service.member_facts``)."""

    customer_id: str
    tier: str | None
    joined_at: datetime | None
    orders: int  # paid orders, ever
    spend_minor: int  # their merchandise less refunds, ever
    first_paid_at: datetime | None
    last_paid_at: datetime | None
    window_orders: int  # paid orders within the window
    window_spend_minor: int


@dataclass(frozen=True, slots=True)
class Rfm:
    customer_id: str
    recency_days: int
    frequency: int
    monetary_minor: int
    r: int
    f: int
    m: int
    segment: str | None


def quantile_scores(values: Sequence[int]) -> list[int]:
    """Each value's score, 1–5: ``1 + ⌊5 × (values strictly below it) / n⌋``."""
    ordered = sorted(values)
    n = len(ordered)
    below: dict[int, int] = {}
    for i, v in enumerate(ordered):
        below.setdefault(v, i)  # the first position of a value: how many are strictly below
    return [1 + (5 * below[v]) // n for v in values]


def name(r: int, f: int, m: int, first_paid_at: datetime, now: datetime) -> str | None:
    """The RFM segment of scores ``r``, ``f``, ``m`` (the table in the module's docstring)."""
    if r >= 4 and f >= 4 and m >= 4:
        return "high_value"
    if f >= 4 and r >= 3:
        return "loyal"
    if first_paid_at >= now - timedelta(days=NEW_DAYS):
        return "new"
    if r <= 2 and (f >= 3 or m >= 3):
        return "at_risk"
    if r <= 2:
        return "hibernating"
    return None


def score(members: Sequence[MemberFacts], now: datetime) -> list[Rfm]:
    """The RFM of every member with a paid order, in the order given."""
    scored = [m for m in members if m.last_paid_at is not None and m.first_paid_at is not None]
    recency = [(now - m.last_paid_at).days for m in scored if m.last_paid_at is not None]
    # Fewer days is better: score the negated figure, so "below" means "longer ago".
    r_scores = quantile_scores([-d for d in recency])
    f_scores = quantile_scores([m.window_orders for m in scored])
    m_scores = quantile_scores([m.window_spend_minor for m in scored])
    out = []
    for i, member in enumerate(scored):
        assert member.first_paid_at is not None
        r, f, m = r_scores[i], f_scores[i], m_scores[i]
        out.append(
            Rfm(member.customer_id, recency[i], member.window_orders, member.window_spend_minor,
                r, f, m, name(r, f, m, member.first_paid_at, now))
        )  # fmt: skip
    return out
