"""The admin's lift page: the holdout's share, and the club's members against the holdout
(``app/holdout/lift.py``) as a table and a chart of the two intervals."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.admin import charts, forms, i18n
from app.admin.auth import AdminSession
from app.admin.pages import Signed, _checked, _form, _lang, _page
from app.api.deps import State
from app.errors import ValidationFailed
from app.holdout import lift, service
from app.holdout.lift_endpoints import report
from app.holdout.schemas import HoldoutIn
from app.money import currency_exponent
from app.orm import utcnow
from app.program import versions
from app.state import AppState

router = APIRouter(prefix="/admin", include_in_schema=False)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _shown(value: Any, lang: str, places: int) -> str:
    """A decimal string as the page's language writes it (Persian digits in fa)."""
    if value is None:
        return "—"
    text = f"{Decimal(value):,.{places}f}"
    return text.translate(str.maketrans("0123456789,.-", "۰۱۲۳۴۵۶۷۸۹٬٫−")) if lang == "fa" else text


async def _lift_page(
    request: Request, state: AppState, session: AdminSession, *,
    errors: dict[str, str] | None = None, form: dict[str, str] | None = None, status: int = 200,
) -> HTMLResponse:  # fmt: skip
    first, last = _day(request.query_params.get("from")), _day(request.query_params.get("to"))
    error = None
    async with state.db.read() as db:
        document = (await versions.load(db, session.shop_id)).latest.document
        holdout = await service.describe(db, session.shop_id)
        try:
            found = await report(db, session.shop_id, first, last)
        except ValidationFailed as exc:
            error, found = exc.message, await report(db, session.shop_id, None, None)
    data = found.as_json()
    lang = _lang(request, document.locale)
    currency = document.currency
    exponent = currency_exponent(currency, document.currency_exponents) if currency else 2
    t = i18n.WORDS[lang]
    rate, revenue = data["repeat_rate"], data["revenue_per_customer_minor"]
    chart = charts.intervals([
        (t["lift_repeat_rate"], rate["difference"], rate["ci95_low"], rate["ci95_high"]),
        (t["lift_revenue"], revenue["difference"], revenue["ci95_low"], revenue["ci95_high"]),
    ])  # fmt: skip

    def pct(v: Any) -> str:
        return "—" if v is None else _shown(Decimal(v) * 100, lang, 1) + t["lift_percent_sign"]

    def money(v: Any) -> str:
        if v is None:
            return "—"
        return i18n.money(
            int(Decimal(v).to_integral_value(ROUND_HALF_EVEN)), exponent, currency, lang
        )

    rows = [
        (t["lift_customers"], i18n.number(data["members"]["customers"], lang),
         i18n.number(data["holdout"]["customers"], lang), "—", "—", ""),
        (t["lift_repeat_rate"], pct(data["members"]["repeat_rate"]),
         pct(data["holdout"]["repeat_rate"]), pct(rate["difference"]),
         f"{pct(rate['ci95_low'])} … {pct(rate['ci95_high'])}", t[f"lift_{rate['verdict']}"]),
        (t["lift_revenue"], money(data["members"]["revenue_per_customer_minor"]),
         money(data["holdout"]["revenue_per_customer_minor"]), money(revenue["difference"]),
         f"{money(revenue['ci95_low'])} … {money(revenue['ci95_high'])}",
         t[f"lift_{revenue['verdict']}"]),
    ]  # fmt: skip
    return await _page(
        request, state, "lift.html", session, page="lift", holdout=holdout, rows=rows,
        chart=chart, lift=data, min_customers=lift.MIN_CUSTOMERS, errors=errors or {},
        form=form or {}, status=status, error=error,
        share=_shown(holdout.share_percent, lang, 2),
    )  # fmt: skip


@router.get("/lift")
async def lift_page(request: Request, state: State, session: Signed) -> HTMLResponse:
    return await _lift_page(request, state, session)


@router.post("/lift/holdout")
async def set_holdout(request: Request, state: State, session: Signed) -> Response:
    form = await _form(request)
    _checked(session, form)
    body, errors = forms.parse(HoldoutIn, form, ("share_percent",))
    if body is None:
        return await _lift_page(request, state, session, errors=errors, form=form, status=422)
    async with state.db.write() as db:
        await service.configure(db, session.shop_id, body, utcnow())
    return RedirectResponse("/admin/lift", status_code=303)
