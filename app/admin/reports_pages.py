"""The admin's reports page: every report of app/reports/catalog.py as a chart (server-drawn
SVG) with its table beside it and a CSV download, over a period the owner picks (default: the
last six months), in the shop's language, calendar and currency."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.admin import charts, i18n
from app.admin.pages import Signed, _lang, _page
from app.api.deps import State
from app.errors import ValidationFailed
from app.money import currency_exponent
from app.orm import utcnow
from app.program import versions
from app.program.document import CampaignRule, ProgramDocument
from app.reports import catalog
from app.reports.endpoints import csv_response
from app.reports.rollup import local_day

router = APIRouter(prefix="/admin", include_in_schema=False)
DEFAULT_DAYS = 183


def _asked(request: Request) -> tuple[date | None, date | None]:
    """The period's days from the query; ValidationFailed for what is not a date."""
    out = []
    for name in ("from", "to"):
        raw = request.query_params.get(name) or None
        try:
            out.append(None if raw is None else date.fromisoformat(raw))
        except ValueError as exc:
            raise ValidationFailed(f"{name}: not a date") from exc
    return out[0], out[1]


async def _tables(
    state: State, shop_id: int, request: Request
) -> tuple[catalog.Period, list[catalog.Table]]:
    start, end = _asked(request)
    async with state.db.read() as session:
        at = await catalog.period(session, shop_id, start, end, default_days=DEFAULT_DAYS)
        return at, [await build(session, shop_id, at) for build in catalog.REPORTS.values()]


class _Cells:
    """How a report's cells read in the page's language."""

    def __init__(self, document: ProgramDocument, lang: str) -> None:
        self.lang = lang
        self.currency = document.currency
        self.exponent = (
            currency_exponent(document.currency, document.currency_exponents)
            if document.currency
            else 2
        )
        self.tiers = {
            lv.key: (lv.names.fa if lang == "fa" else lv.names.en) or lv.key
            for lv in (document.tiers.levels if document.tiers else [])
        }
        self.campaigns = {
            r.key: ((r.names.fa if lang == "fa" else r.names.en) if r.names else None) or r.key
            for r in document.rules
            if isinstance(r, CampaignRule)
        }

    def label(self, table: catalog.Table, value: Any, t: dict[str, str]) -> str:
        if table.label == "day":
            return i18n.day(date.fromisoformat(value), self.lang)
        if table.label in ("month", "cohort"):
            first = date.fromisoformat(value)
            return i18n.day(first, self.lang) if self.lang == "fa" else value[:7]
        if table.label == "tier":
            return t["no_tier"] if value is None else self.tiers.get(value, value)
        return t["other_orders"] if value is None else self.campaigns.get(value, value)

    def cell(self, table: catalog.Table, column: str, value: Any) -> str:
        if value is None:
            return "—"
        if column in table.shares:
            return i18n.percent(value, self.lang)
        whole = int(Decimal(value).to_integral_value())
        if column in table.money:
            return i18n.money(whole, self.exponent, self.currency, self.lang)
        if isinstance(value, str):  # an average of points
            return i18n.digits(value, self.lang)
        return i18n.number(whole, self.lang)


def _chart_value(value: Any) -> int:
    return 0 if value is None else int(Decimal(value).to_integral_value())


def _view(table: catalog.Table, cells: _Cells, t: dict[str, str]) -> dict[str, Any]:
    shown = table.shown or table.columns
    rows = table.rows
    if table.label == "day":  # a day without anything to show makes no row
        rows = [r for r in table.rows if any(r[c] for c in table.columns[1:])]
    labelled = [{"day": cells.label(table, r[table.label], t),
                 **{c: _chart_value(r[c]) for c in table.chart}} for r in table.rows]  # fmt: skip
    totals = [
        (key, cells.cell(table, key, value))
        for key, value in table.totals.items()
        if f"total_{key}" in t
    ]
    return {
        "name": table.name,
        "chart": charts.bars(labelled, table.chart),
        "series": table.chart,
        "columns": shown,
        "rows": [
            [
                cells.label(table, r[table.label], t),
                *(cells.cell(table, c, r[c]) for c in shown[1:]),
            ]
            for r in rows
        ],  # fmt: skip
        "totals": totals,
    }


@router.get("/reports")
async def reports_page(request: Request, state: State, session: Signed) -> HTMLResponse:
    async with state.db.read() as db:
        document = (await versions.load(db, session.shop_id)).at(utcnow()).document
    lang = _lang(request, document.locale)
    t = i18n.WORDS[lang]
    try:
        at, tables = await _tables(state, session.shop_id, request)
    except ValidationFailed:
        today = local_day(utcnow(), ZoneInfo(document.timezone))
        first = today - timedelta(days=DEFAULT_DAYS - 1)
        return await _page(request, state, "reports.html", session, page="reports", status=422,
                           error_key="period_invalid", reports=[], first=first, last=today,
                           query="")  # fmt: skip
    cells = _Cells(at.document, lang)
    query = f"from={at.first.isoformat()}&to={at.last.isoformat()}"  # the CSVs' and the
    # language link's (which keeps the period)
    return await _page(request, state, "reports.html", session, page="reports",
                       reports=[_view(table, cells, t) for table in tables],
                       first=at.first, last=at.last, query=query,
                       keep_query=query)  # fmt: skip


def _csv_route(name: str, build: catalog.Builder) -> None:
    async def download(request: Request, state: State, session: Signed) -> Response:
        start, end = _asked(request)
        async with state.db.read() as db:
            at = await catalog.period(db, session.shop_id, start, end, default_days=DEFAULT_DAYS)
            return csv_response(await build(db, session.shop_id, at))

    router.add_api_route(f"/reports/{name}.csv", download, methods=["GET"],
                         name=f"admin_report_{name}_csv")  # fmt: skip


for _name, _build in catalog.REPORTS.items():
    _csv_route(_name, _build)
