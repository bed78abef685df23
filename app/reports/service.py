"""Reports, read from the rollup (a year is 365 rows) and the shop's four system accounts:
they answer in milliseconds whatever the size of the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.models import SYSTEM_OWNER, Account, AccountKind
from app.program.document import ProgramDocument
from app.reports.models import ReportDay
from app.reports.rollup import COUNTS

DAILY = COUNTS


def ratio(a: int, b: int, places: str = "0.0001") -> str | None:
    """``a / b`` as an exact decimal string (never a float), or None without a denominator."""
    if b == 0:
        return None
    return str((Decimal(a) / Decimal(b)).quantize(Decimal(places), ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class Summary:
    start: date
    end: date
    totals: dict[str, int]
    days: list[dict[str, Any]]
    members: int
    outstanding_points: int
    liability_minor: int | None  # outstanding × the point's value (None: no value set)

    def ratios(self) -> dict[str, str | None]:
        """Rates as decimal strings (exact, never floats), or None without a denominator."""
        t = self.totals
        earned = t["points_issued"] + t["points_adjusted"]
        return {
            "redemption_rate": ratio(t["points_redeemed"], earned),
            "aov_members_minor": ratio(t["revenue_members_minor"], t["orders_members"], "1"),
            "aov_guests_minor": ratio(t["revenue_guests_minor"], t["orders_guests"], "1"),
            "revenue_redeeming_share": ratio(
                t["revenue_redeeming_minor"], t["revenue_members_minor"] + t["revenue_guests_minor"]
            ),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(), "to": self.end.isoformat(), "totals": self.totals,
            **self.ratios(), "members": self.members,
            "outstanding_points": self.outstanding_points,
            "liability_minor": self.liability_minor, "days": self.days,
        }  # fmt: skip


async def summary(
    session: AsyncSession, shop_id: int, document: ProgramDocument, start: date, end: date
) -> Summary:
    rows = (
        await session.scalars(
            select(ReportDay)
            .where(ReportDay.shop_id == shop_id, ReportDay.day >= start, ReportDay.day <= end)
            .order_by(ReportDay.day)
        )
    ).all()
    days = [{"day": r.day.isoformat(), **{k: getattr(r, k) for k in DAILY}} for r in rows]
    totals = {k: sum(d[k] for d in days) for k in DAILY}
    # Double entry: what members hold is what the system accounts gave out, less what came back.
    system = await session.execute(
        select(Account.balance).where(
            Account.shop_id == shop_id,
            Account.owner == SYSTEM_OWNER,
            Account.kind.in_(AccountKind.SYSTEM),
        )  # fmt: skip
    )
    outstanding = -sum(int(b) for (b,) in system)
    # Every member joined on some day of the rollup: their count needs no scan of members.
    joined = sum(
        int(n)
        for (n,) in await session.execute(
            select(ReportDay.members_joined).where(ReportDay.shop_id == shop_id)
        )
    )
    value = document.point_value_minor
    liability = None if value is None else int((Decimal(outstanding) * value).to_integral_value())
    return Summary(start, end, totals, days, joined, outstanding, liability)
