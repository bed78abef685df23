"""``/api/v1/reports``: what the club earned and cost over a period, from the daily rollup."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import orjson
from fastapi import Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import CurrentShop, ReadSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import ValidationFailed
from app.imports.exports import csv_text
from app.orm import utcnow
from app.program import versions
from app.program.document import ProgramDocument
from app.reports import service
from app.reports.rollup import local_day

router = admin_router("/api/v1/reports", tags=["reports"])
MAX_DAYS = 3 * 366
From = Annotated[date | None, Query(alias="from", description="first day, the shop's time zone")]
To = Annotated[date | None, Query(alias="to", description="last day (default: today)")]


async def _period(
    session: AsyncSession, shop_id: int, start: date | None, end: date | None
) -> tuple[ProgramDocument, date, date]:
    document = (await versions.load(session, shop_id)).at(utcnow()).document
    last = end or local_day(utcnow(), ZoneInfo(document.timezone))
    first = start or last - timedelta(days=29)
    if first > last:
        raise ValidationFailed("from: must not be after to")
    if (last - first).days >= MAX_DAYS:
        raise ValidationFailed(f"a report covers at most {MAX_DAYS} days")
    return document, first, last


@router.get(
    "/summary",
    summary="Points issued, redeemed, expired; members; orders and revenue; liability",
    responses=error_responses(ValidationFailed),
)
async def summary(
    shop: CurrentShop, session: ReadSession, start: From = None, end: To = None
) -> Response:
    """Totals and one row per day over the period (default: the last 30 days), the rates
    (redemption rate, average order value of members and guests, share of revenue from orders
    that used a reward) as exact decimal strings, and the points members hold now with their
    value in money (``liability_minor``, when the program gives ``point_value_minor``)."""
    document, first, last = await _period(session, shop.shop_id, start, end)
    found = await service.summary(session, shop.shop_id, document, first, last)
    return Response(orjson.dumps(found.as_json()), media_type="application/json")


@router.get(
    "/daily.csv",
    summary="The daily rollup over a period, as CSV",
    responses={200: {"content": {"text/csv": {}}}, **error_responses(ValidationFailed)},
)
async def daily_csv(
    shop: CurrentShop, session: ReadSession, start: From = None, end: To = None
) -> Response:
    document, first, last = await _period(session, shop.shop_id, start, end)
    found = await service.summary(session, shop.shop_id, document, first, last)
    rows = [("day", *service.DAILY)]
    rows += [(d["day"], *(d[k] for k in service.DAILY)) for d in found.days]
    return Response(
        csv_text(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="vafa-daily.csv"'},
    )
