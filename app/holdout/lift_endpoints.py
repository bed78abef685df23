"""``/api/v1/reports/lift`` (and ``.csv``): members against the holdout over a period."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import orjson
from fastapi import Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import CurrentShop, ReadSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import ValidationFailed
from app.holdout import lift
from app.holdout.membership import settings_of
from app.imports.exports import csv_text
from app.orm import utcnow
from app.program import versions

router = admin_router("/api/v1/reports", tags=["reports"])
MAX_DAYS = 3 * 366
DEFAULT_DAYS = 90
From = Annotated[
    date | None,
    Query(alias="from", description="first day, the shop's time zone (default: the day the "
          "holdout started, else 90 days back)"),
]  # fmt: skip
To = Annotated[date | None, Query(alias="to", description="last day (default: today)")]


async def period(
    session: AsyncSession, shop_id: int, first: date | None, last: date | None
) -> tuple[date, date, datetime, datetime]:
    """The days asked for (their defaults) and their bounds in UTC, in the shop's time zone."""
    zone = ZoneInfo((await versions.load(session, shop_id)).at(utcnow()).document.timezone)
    last = last or utcnow().astimezone(zone).date()
    if first is None:
        settings = await settings_of(session, shop_id)
        started = settings.started_at if settings else None
        first = started.astimezone(zone).date() if started else last - timedelta(DEFAULT_DAYS - 1)
        first = min(first, last)
    if first > last:
        raise ValidationFailed("from: must not be after to")
    if (last - first).days >= MAX_DAYS:
        raise ValidationFailed(f"a report covers at most {MAX_DAYS} days")
    start = datetime.combine(first, time(), zone).astimezone(ZoneInfo("UTC"))
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(ZoneInfo("UTC"))
    return first, last, start, end


async def report(
    session: AsyncSession, shop_id: int, first: date | None, last: date | None
) -> lift.Lift:
    day1, day2, start, end = await period(session, shop_id, first, last)
    return await lift.lift(session, shop_id, day1, day2, start, end)


@router.get(
    "/lift",
    summary="Causal lift: the club's members against the holdout",
    responses=error_responses(ValidationFailed),
)
async def lift_report(
    shop: CurrentShop, session: ReadSession, start: From = None, end: To = None
) -> Response:
    """For the customers placed by chance in the club (``members``) and in the holdout, who
    bought in the period: the repeat rate (share with 2 paid orders or more) and the revenue
    per customer (net merchandise, minor units), the difference members − holdout with its
    95 % interval (two-proportion normal; Welch's t), and a verdict: ``too_small`` (fewer than
    30 customers in a group, or for the rate fewer than 5 who repeated or did not),
    ``no_difference`` (the interval spans 0), ``members_higher`` or ``members_lower``. Figures
    are exact decimal strings."""
    found = await report(session, shop.shop_id, start, end)
    return Response(orjson.dumps(found.as_json()), media_type="application/json")


@router.get(
    "/lift.csv",
    summary="The lift report, as CSV",
    responses={200: {"content": {"text/csv": {}}}, **error_responses(ValidationFailed)},
)
async def lift_csv(
    shop: CurrentShop, session: ReadSession, start: From = None, end: To = None
) -> Response:
    found = await report(session, shop.shop_id, start, end)
    return Response(
        csv_text(lift.csv_rows(found)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="vafa-lift.csv"'},
    )
