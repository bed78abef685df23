"""``/api/v1/reports``: what the club earned and cost over a period, from the daily rollup."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import orjson
from fastapi import Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import CurrentShop, ReadSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import ValidationFailed
from app.imports.exports import csv_text
from app.program.document import ProgramDocument
from app.reports import catalog, service

router = admin_router("/api/v1/reports", tags=["reports"])
From = Annotated[date | None, Query(alias="from", description="first day, the shop's time zone")]
To = Annotated[date | None, Query(alias="to", description="last day (default: today)")]


async def _period(
    session: AsyncSession, shop_id: int, start: date | None, end: date | None
) -> tuple[ProgramDocument, date, date]:
    at = await catalog.period(session, shop_id, start, end)
    return at.document, at.first, at.last


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


def _report_routes(name: str, build: catalog.Builder) -> None:
    """``GET /api/v1/reports/<name>`` (JSON) and ``/<name>.csv``: one table, from the rollups."""

    async def as_json(
        shop: CurrentShop, session: ReadSession, start: From = None, end: To = None
    ) -> Response:
        at = await catalog.period(session, shop.shop_id, start, end)
        table = await build(session, shop.shop_id, at)
        return Response(orjson.dumps(table.as_json(at)), media_type="application/json")

    async def as_csv(
        shop: CurrentShop, session: ReadSession, start: From = None, end: To = None
    ) -> Response:
        at = await catalog.period(session, shop.shop_id, start, end)
        table = await build(session, shop.shop_id, at)
        return csv_response(table)

    summary = (build.__doc__ or name).strip().splitlines()[0]
    router.add_api_route(
        f"/{name}",
        as_json,
        methods=["GET"],
        summary=summary,
        responses=error_responses(ValidationFailed),
        name=f"report_{name}",
    )
    router.add_api_route(f"/{name}.csv", as_csv, methods=["GET"], summary=f"{summary} (CSV)",
                         responses={200: {"content": {"text/csv": {}}},
                                    **error_responses(ValidationFailed)},
                         name=f"report_{name}_csv")  # fmt: skip


def csv_response(table: catalog.Table) -> Response:
    return Response(
        csv_text(table.csv_rows()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="vafa-{table.name}.csv"'},
    )


for _name, _build in catalog.REPORTS.items():
    _report_routes(_name, _build)
