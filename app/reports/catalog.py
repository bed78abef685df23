"""The reports, each a table of rows read from the rollups (never from the ledger or the
orders): the API answers them as JSON and CSV, the admin draws each as a chart beside its
table. Rates and averages are exact decimal strings; money is integer minor units.

Monthly reports cover the calendar months (the shop's time zone) that the period touches,
whole; daily ones its days."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ValidationFailed
from app.orm import utcnow
from app.program import versions
from app.program.document import ProgramDocument
from app.reports import service
from app.reports.campaigns import CAMPAIGN
from app.reports.models import (
    ReportCampaignDay,
    ReportCohort,
    ReportDay,
    ReportMonth,
    ReportTier,
)
from app.reports.orders import month_of, months_between, next_month
from app.reports.rollup import local_day
from app.reports.service import ratio

MAX_DAYS = 3 * 366
RETENTION_MONTHS = 6  # a cohort's months +1 … +6


@dataclass(frozen=True, slots=True)
class Period:
    document: ProgramDocument
    first: date
    last: date

    @property
    def months(self) -> list[date]:
        return months_between(self.first, self.last)


async def period(
    session: AsyncSession, shop_id: int, start: date | None, end: date | None, *,
    default_days: int = 30,
) -> Period:  # fmt: skip
    """The days asked for (default: the ``default_days`` up to today in the shop's time zone);
    422 for a period backwards or longer than ``MAX_DAYS``."""
    document = (await versions.load(session, shop_id)).at(utcnow()).document
    last = end or local_day(utcnow(), ZoneInfo(document.timezone))
    first = start or last - timedelta(days=default_days - 1)
    if first > last:
        raise ValidationFailed("from: must not be after to")
    if (last - first).days >= MAX_DAYS:
        raise ValidationFailed(f"a report covers at most {MAX_DAYS} days")
    return Period(document, first, last)


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    label: str  # the column that names a row (a bar of the chart)
    chart: tuple[str, ...]  # the columns drawn (whole numbers, or decimal strings)
    money: frozenset[str] = frozenset()  # columns in minor units of the shop's currency
    shares: frozenset[str] = frozenset()  # columns that are a share of 1
    shown: tuple[str, ...] = ()  # the admin's columns, when fewer than all
    notes: dict[str, str] = field(default_factory=dict)  # what a figure means, for the reader

    def as_json(self, at: Period) -> dict[str, Any]:
        return {
            "report": self.name, "from": at.first.isoformat(), "to": at.last.isoformat(),
            "columns": list(self.columns), "rows": self.rows, "totals": self.totals,
            "notes": self.notes,
        }  # fmt: skip

    def csv_rows(self) -> list[tuple[Any, ...]]:
        return [self.columns, *(tuple(row[c] for c in self.columns) for row in self.rows)]


Builder = Callable[[AsyncSession, int, Period], Awaitable[Table]]


async def _days(session: AsyncSession, shop_id: int, at: Period) -> list[ReportDay]:
    return list(
        (
            await session.scalars(
                select(ReportDay)
                .where(
                    ReportDay.shop_id == shop_id,
                    ReportDay.day >= at.first,
                    ReportDay.day <= at.last,
                )
                .order_by(ReportDay.day)
            )  # fmt: skip
        ).all()
    )


async def _joined_by_month(session: AsyncSession, shop_id: int, before: date) -> dict[date, int]:
    """Members who joined, by month, up to ``before`` (a day row per day: small)."""
    out: dict[date, int] = defaultdict(int)
    for day, n in await session.execute(
        select(ReportDay.day, ReportDay.members_joined).where(
            ReportDay.shop_id == shop_id, ReportDay.day < before, ReportDay.members_joined > 0
        )
    ):
        out[month_of(day)] += int(n)
    return out


async def points(session: AsyncSession, shop_id: int, at: Period) -> Table:
    """Points issued, adjusted, redeemed and expired by day; redemption rate; liability in money."""
    found = await service.summary(session, shop_id, at.document, at.first, at.last)
    columns = ("day", "points_issued", "points_adjusted", "points_redeemed", "points_expired")
    rows = [{c: d[c] for c in columns} for d in found.days]
    totals: dict[str, Any] = {c: found.totals[c] for c in columns[1:]}
    totals |= {
        "redemption_rate": found.ratios()["redemption_rate"],
        "members": found.members,
        "outstanding_points": found.outstanding_points,
        "liability_minor": found.liability_minor,
    }
    notes = {
        "redemption_rate": "points redeemed ÷ points issued and adjusted, in the period",
        "liability_minor": "points members hold now × the program's point_value_minor "
        "(null while the program sets no value for a point)",
    }
    return Table("points", columns, rows, totals, "day",
                 ("points_issued", "points_redeemed", "points_expired"),
                 money=frozenset({"liability_minor"}), shares=frozenset({"redemption_rate"}),
                 notes=notes)  # fmt: skip


async def members(session: AsyncSession, shop_id: int, at: Period) -> Table:
    """Members at each month's end, members joined, active members (a paid order in it)."""
    months = at.months
    joined = await _joined_by_month(session, shop_id, next_month(months[-1]))
    active = {
        month: int(n)
        for month, n in await session.execute(
            select(ReportMonth.month, ReportMonth.customers).where(
                ReportMonth.shop_id == shop_id,
                ReportMonth.member.is_(True),
                ReportMonth.month.in_(months),
            )  # fmt: skip
        )
    }
    rows: list[dict[str, Any]] = []
    for month in months:
        total = sum(n for m, n in joined.items() if m <= month)
        rows.append({"month": month.isoformat(), "members": total,
                     "members_joined": joined.get(month, 0),
                     "active_members": active.get(month, 0),
                     "active_share": ratio(active.get(month, 0), total)})  # fmt: skip
    totals = {"members": sum(joined.values()),
              "members_joined": sum(r["members_joined"] for r in rows)}  # fmt: skip
    notes = {"members": "members at the month's end", "active_members": "members with a paid "
             "order in the month"}  # fmt: skip
    return Table("members", ("month", "members", "members_joined", "active_members",
                             "active_share"), rows, totals, "month",
                 ("members", "active_members"), shares=frozenset({"active_share"}),
                 notes=notes)  # fmt: skip


_SEGMENTS = (("member", True), ("guest", False))


async def purchases(session: AsyncSession, shop_id: int, at: Period) -> Table:
    """Repeat purchase rate and average order value by month, members against non-members."""
    found = {
        (r.month, r.member): r
        for r in await session.scalars(
            select(ReportMonth).where(
                ReportMonth.shop_id == shop_id, ReportMonth.month.in_(at.months)
            )
        )
    }
    rows: list[dict[str, Any]] = []
    totals: dict[str, Any] = {}
    for month in at.months:
        row: dict[str, Any] = {"month": month.isoformat()}
        for name, flag in _SEGMENTS:
            r = found.get((month, flag))
            n, again, orders, minor = (
                (r.customers, r.repeat_customers, r.orders, r.revenue_minor) if r else (0, 0, 0, 0)
            )
            row |= {
                f"{name}_customers": n,
                f"{name}_repeat_customers": again,
                f"{name}_repeat_rate": ratio(again, n),
                f"{name}_orders": orders,
                f"{name}_revenue_minor": minor,
                f"{name}_aov_minor": ratio(minor, orders, "1"),
            }
        rows.append(row)
    for name, _ in _SEGMENTS:
        orders = sum(r[f"{name}_orders"] for r in rows)
        minor = sum(r[f"{name}_revenue_minor"] for r in rows)
        totals |= {f"{name}_orders": orders, f"{name}_revenue_minor": minor,
                   f"{name}_aov_minor": ratio(minor, orders, "1")}  # fmt: skip
    kinds = ("customers", "repeat_customers", "repeat_rate", "orders", "revenue_minor", "aov_minor")
    columns = ("month", *(f"{s}_{c}" for s, _ in _SEGMENTS for c in kinds))
    notes = {
        "guest": "non-members: orders without a customer account (every customer with one is "
        "enrolled), told apart by the hash of the e-mail on the order, else one customer each",
        "repeat_rate": "share of the month's buying customers who had bought in an earlier "
        "month or bought twice in it",
    }
    return Table("purchases", columns, rows, totals, "month",
                 ("member_aov_minor", "guest_aov_minor"),
                 money=frozenset(c for c in columns if c.endswith("_minor")),
                 shares=frozenset(c for c in columns if c.endswith("_rate")),
                 shown=("month", "member_customers", "member_repeat_rate", "member_aov_minor",
                        "guest_customers", "guest_repeat_rate", "guest_aov_minor"),
                 notes=notes)  # fmt: skip


async def redemptions(session: AsyncSession, shop_id: int, at: Period) -> Table:
    """Revenue influenced by redemptions: paid orders that used a Vafa code, by day."""
    rows: list[dict[str, Any]] = []
    for d in await _days(session, shop_id, at):
        orders = d.orders_members + d.orders_guests
        minor = d.revenue_members_minor + d.revenue_guests_minor
        rows.append(
            {"day": d.day.isoformat(), "orders": orders, "revenue_minor": minor,
                     "orders_redeeming": d.orders_redeeming,
                     "revenue_redeeming_minor": d.revenue_redeeming_minor,
                     "revenue_redeeming_share": ratio(d.revenue_redeeming_minor, minor)},
        )  # fmt: skip
    keys = ("orders", "revenue_minor", "orders_redeeming", "revenue_redeeming_minor")
    totals: dict[str, Any] = {k: sum(r[k] for r in rows) for k in keys}
    totals["revenue_redeeming_share"] = ratio(
        totals["revenue_redeeming_minor"], totals["revenue_minor"]
    )
    notes = {"orders_redeeming": "paid orders that used a Vafa discount code"}
    return Table("redemptions", ("day", *keys, "revenue_redeeming_share"), rows, totals, "day",
                 ("revenue_minor", "revenue_redeeming_minor"),
                 money=frozenset({"revenue_minor", "revenue_redeeming_minor"}),
                 shares=frozenset({"revenue_redeeming_share"}), notes=notes)  # fmt: skip


async def tiers(session: AsyncSession, shop_id: int, at: Period) -> Table:
    """Customer lifetime value by current tier: revenue per member."""
    found = {
        r.tier: r for r in await session.scalars(select(ReportTier).where(
            ReportTier.shop_id == shop_id))
    }  # fmt: skip
    levels = [lv.key for lv in at.document.tiers.levels] if at.document.tiers else []
    order = [*levels, *sorted(k for k in found if k not in levels)]
    rows: list[dict[str, Any]] = []
    for key in order:
        r = found.get(key)
        n, minor = (r.members, r.revenue_minor) if r else (0, 0)
        rows.append({"tier": key or None, "members": n, "revenue_minor": minor,
                     "clv_minor": ratio(minor, n, "1")})  # fmt: skip
    totals = {"members": sum(r["members"] for r in rows),
              "revenue_minor": sum(r["revenue_minor"] for r in rows)}  # fmt: skip
    notes = {"clv_minor": "all revenue of the tier's members ÷ its members, by the tier each "
             "holds now (lifetime: the period does not narrow it)"}  # fmt: skip
    return Table("tiers", ("tier", "members", "revenue_minor", "clv_minor"), rows, totals,
                 "tier", ("clv_minor",), money=frozenset({"revenue_minor", "clv_minor"}),
                 notes=notes)  # fmt: skip


async def cohorts(session: AsyncSession, shop_id: int, at: Period) -> Table:
    """Cohort retention by join month: share of each month's joiners buying in months +1 … +6."""
    months = at.months
    joined = await _joined_by_month(session, shop_id, next_month(months[-1]))
    cells = {
        (cohort, month): int(n)
        for cohort, month, n in await session.execute(
            select(ReportCohort.cohort, ReportCohort.month, ReportCohort.retained).where(
                ReportCohort.shop_id == shop_id, ReportCohort.cohort.in_(months)
            )
        )
    }
    end = month_of(at.last)
    rows = []
    for cohort in months:
        n = joined.get(cohort, 0)
        row: dict[str, Any] = {"cohort": cohort.isoformat(), "members": n}
        month = cohort
        for k in range(1, RETENTION_MONTHS + 1):
            month = next_month(month)
            kept = cells.get((cohort, month), 0) if month <= end else None
            row[f"retained_{k}"] = kept
            row[f"share_{k}"] = None if kept is None else ratio(kept, n)
        rows.append(row)
    ks = range(1, RETENTION_MONTHS + 1)
    columns = ("cohort", "members", *(f"retained_{k}" for k in ks), *(f"share_{k}" for k in ks))
    totals = {"members": sum(r["members"] for r in rows)}
    notes = {"share_1": "share of the month's joiners with a paid order in the next month "
             "(share_2: the month after, …); null for a month after the period"}  # fmt: skip
    return Table("cohorts", columns, rows, totals, "cohort", ("members", "retained_1"),
                 shares=frozenset(f"share_{k}" for k in ks),
                 shown=("cohort", "members", *(f"share_{k}" for k in ks)), notes=notes)  # fmt: skip


async def campaigns(session: AsyncSession, shop_id: int, at: Period) -> Table:
    """Campaign effect: points and revenue on orders a campaign rule touched vs the other orders."""
    c = ReportCampaignDay
    found = await session.execute(
        select(c.rule, func.sum(c.orders), func.sum(c.points), func.sum(c.revenue_minor))
        .where(c.shop_id == shop_id, c.day >= at.first, c.day <= at.last)
        .group_by(c.rule)
    )
    by_rule = {rule: (int(n), int(p), int(minor)) for rule, n, p, minor in found}
    rows = []
    for rule in [*sorted(r for r in by_rule if r), ""]:
        n, p, minor = by_rule.get(rule, (0, 0, 0))
        rows.append({"campaign": rule.removeprefix(CAMPAIGN) or None, "orders": n, "points": p,
                     "revenue_minor": minor, "points_per_order": ratio(p, n, "0.01"),
                     "aov_minor": ratio(minor, n, "1")})  # fmt: skip
    notes = {"campaign": "members' paid orders whose ledger lines name the campaign rule; the "
             "row without a campaign: the period's other members' orders",
             "points": "all the points those orders carry, net of reversals"}  # fmt: skip
    return Table("campaigns", ("campaign", "orders", "points", "revenue_minor",
                               "points_per_order", "aov_minor"), rows, {}, "campaign",
                 ("aov_minor",), money=frozenset({"revenue_minor", "aov_minor"}),
                 notes=notes)  # fmt: skip


REPORTS: dict[str, Builder] = {
    "points": points,
    "members": members,
    "purchases": purchases,
    "redemptions": redemptions,
    "tiers": tiers,
    "cohorts": cohorts,
    "campaigns": campaigns,
}
