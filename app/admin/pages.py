"""The admin's pages. Every page but sign-in needs the session cookie, and reads and writes the
session's shop only; every form carries the session's CSRF token and is refused without it
(403 ``csrf_refused``). Plain HTML forms: the pages work with JavaScript off."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from app.admin import auth, charts, embedded, forms, i18n, service
from app.admin.auth import AdminSession
from app.api.deps import State
from app.api.routing import read_at_most
from app.connectors.base import Platform
from app.errors import AppError, IdempotencyConflict, InvalidRequest, Unauthorized
from app.imports import exports
from app.jobs import service as jobs
from app.limits import MAX_ADJUSTMENT_POINTS
from app.members import adjustments
from app.members import service as members
from app.members.balances import balance_in
from app.orm import utcnow
from app.program import versions
from app.program.settings import ProgramSettings
from app.ratelimits import client_address
from app.reports import service as reports
from app.reports.rollup import local_day
from app.rewards import service as rewards
from app.rewards.schemas import RewardIn, RewardPatch
from app.shops.models import Shop, ShopStatus
from app.shops.service import (
    ShopContext,
    normalize_shopify_domain,
    normalize_store_url,
    update_display,
)  # fmt: skip
from app.state import AppState

router = APIRouter(prefix="/admin", include_in_schema=False)
LANG_COOKIE = "vafa_lang"
PRE_COOKIE = "vafa_admin_pre"  # the sign-in form's CSRF token, before there is a session
MAX_FORM_BYTES = 16 * 1024
_env = Environment(loader=PackageLoader("app.admin", "templates"), autoescape=select_autoescape())
# One path segment: Jinja's urlencode leaves "/" as it is, which would split a customer id.
_env.filters["path_part"] = lambda value: quote(str(value), safe="")


class SignInNeeded(AppError):
    status_code = 303
    code = "sign_in_needed"
    example = "sign in first"

    @property
    def headers(self) -> dict[str, str]:
        return {"Location": "/admin/sign-in"}


def _secure(state: AppState) -> bool:
    return (state.settings.public_url or "").startswith("https://")


def _open(shop: ShopContext | None) -> bool:
    """A shop whose admin may be used: not turned off, and connected (not pending)."""
    return shop is not None and shop.status in ShopStatus.RECEIVING


async def signed_in(request: Request, state: State) -> AdminSession:
    # Inside the Shopify admin: the request's session token is the session (app/admin/embedded.py).
    embedded_session = await embedded.session_of(request, state)
    if embedded_session is not None:
        embedded_shop = await state.shops.by_id(embedded_session.shop_id)
        i18n.CURRENCY_SHOWN.set(embedded_shop.settings.currency_display if embedded_shop else None)
        return embedded_session
    found = auth.load(state.settings.secret_key, request.cookies.get(auth.COOKIE))
    shop = await state.shops.by_id(found.shop_id) if found else None
    if found is None or shop is None or not _open(shop):
        raise SignInNeeded("sign in first")
    async with state.db.read() as db:
        live = await auth.is_live(db, found, utcnow())
    if not live:  # signed out, its password changed, or every session of the shop revoked
        raise SignInNeeded("sign in first")
    # Every money figure of this request, shown in Toman or Rial as the shop chose.
    i18n.CURRENCY_SHOWN.set(shop.settings.currency_display)
    return found


Signed = Annotated[AdminSession, Depends(signed_in)]


async def _form(request: Request) -> dict[str, str]:
    raw = await read_at_most(request, MAX_FORM_BYTES)
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _lang(request: Request, fallback: str) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return asked if asked in i18n.LANGS else fallback


async def _page(
    request: Request,
    state: AppState,
    template: str,
    session: AdminSession | None,
    *,
    page: str = "",
    status: int = 200,
    **ctx: Any,
) -> HTMLResponse:
    document = None
    if session is not None:
        async with state.db.read() as db:
            document = (await versions.load(db, session.shop_id)).latest.document
    lang = _lang(request, document.locale if document else "en")
    timezone = document.timezone if document else "UTC"
    # A note or an error named by its key: worded in the page's language.
    for name in ("note", "error"):
        key = ctx.pop(f"{name}_key", None)
        if key is not None:
            ctx[name] = i18n.WORDS[lang][key].format(max=i18n.number(MAX_ADJUSTMENT_POINTS, lang))
    body = _env.get_template(template).render(
        lang=lang, t=i18n.WORDS[lang], page=page, signed_in=session is not None,
        csrf=session.csrf if session else ctx.pop("csrf", ""),
        num=lambda n: i18n.number(int(n), lang), when=lambda d: i18n.when(d, lang, timezone),
        **embedded.page_context(request, state), **ctx,
    )  # fmt: skip
    response = HTMLResponse(body, status_code=status)
    if request.query_params.get("lang") in i18n.LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def _checked(session: AdminSession, form: dict[str, str]) -> None:
    auth.check_csrf(session, form.get("csrf"))


# --- signing in ---------------------------------------------------------------------------


def _with_pre_cookie(state: AppState, response: Response, token: str) -> Response:
    """The CSRF token of a form shown before there is a session (sign-in, a link's
    confirmation), also in a strict cookie: another site cannot post it."""
    response.set_cookie(PRE_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=_secure(state), path="/admin")  # fmt: skip
    return response


def _check_pre(request: Request, form: dict[str, str]) -> str:
    pre = request.cookies.get(PRE_COOKIE, "")
    if not pre or not auth.same_token(pre, form.get("csrf")):
        raise auth.CSRFRefused("the form's CSRF token is missing or wrong; reload the page")
    return pre


@router.get("/sign-in")
async def sign_in_page(request: Request, state: State) -> Response:
    token = secrets.token_urlsafe(24)
    response = await _page(request, state, "sign_in.html", None, csrf=token)
    return _with_pre_cookie(state, response, token)


async def _shop_of(state: AppState, store: str) -> int | None:
    text = store.strip()
    try:
        if text.lower().endswith(".myshopify.com") or ".myshopify.com/" in text.lower():
            found = await state.shops.by_domain(Platform.SHOPIFY, normalize_shopify_domain(text))
        else:
            url = text if "://" in text else f"https://{text}"
            found = await state.shops.by_domain(Platform.WOOCOMMERCE, normalize_store_url(url))
    except InvalidRequest:
        return None
    return found.shop_id if found is not None and _open(found) else None


def _signed_in_response(state: AppState, session: AdminSession) -> Response:
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(auth.COOKIE, auth.dump(state.settings.secret_key, session),
                        max_age=auth.SESSION_SECONDS, httponly=True, samesite="lax",
                        secure=_secure(state), path="/admin")  # fmt: skip
    response.delete_cookie(PRE_COOKIE, path="/admin")
    return response


@router.post("/sign-in")
async def sign_in(request: Request, state: State) -> Response:
    form = await _form(request)
    pre = _check_pre(request, form)
    await state.sign_in_limits.attempt(client_address(request), form.get("email", ""))
    shop_id = await _shop_of(state, form.get("store", ""))
    try:
        if shop_id is None:
            raise Unauthorized("the e-mail or the password is wrong")
        async with state.db.write() as db:
            session = await auth.sign_in(
                db, shop_id, form.get("email", ""), form.get("password", ""), utcnow()
            )
    except Unauthorized as exc:
        return await _page(request, state, "sign_in.html", None, csrf=pre, status=401,
                           error=exc.message, store=form.get("store", ""))  # fmt: skip
    return _signed_in_response(state, session)


ShopId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/link/{shop_id}/{token}")
async def sign_in_link_page(
    shop_id: ShopId,
    token: Annotated[str, Path(min_length=20, max_length=100)],
    request: Request,
    state: State,
) -> Response:
    """The link from ``vafa admin link`` asks before it signs in: a GET is also what a mail
    or chat preview fetches (which would use the link up) and what another site can make a
    browser do (signing it in to a shop of the attacker's). The token is checked on POST."""
    csrf = secrets.token_urlsafe(24)
    response = await _page(request, state, "link.html", None, csrf=csrf, shop_id=shop_id,
                           token=token)  # fmt: skip
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
    return _with_pre_cookie(state, response, csrf)


@router.post("/link/{shop_id}")
async def sign_in_link(shop_id: ShopId, request: Request, state: State) -> Response:
    form = await _form(request)
    _check_pre(request, form)
    await state.sign_in_limits.attempt(client_address(request), f"link:{shop_id}")
    token = form.get("token", "")
    if not 20 <= len(token) <= 100 or not _open(await state.shops.by_id(shop_id)):
        raise Unauthorized("this sign-in link is not valid (used, expired or mistyped)")
    async with state.db.write() as db:
        session = await auth.use_link(db, shop_id, token, utcnow())
    return _signed_in_response(state, session)


@router.post("/sign-out")
async def sign_out(request: Request, state: State, session: Signed) -> Response:
    _checked(session, await _form(request))
    async with state.db.write() as db:
        await auth.revoke(db, session.shop_id, utcnow(), sid=session.sid)
    response = RedirectResponse("/admin/sign-in", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/admin")
    return response


# --- pages ----------------------------------------------------------------------------------


@router.get("")
async def overview(request: Request, state: State, session: Signed) -> HTMLResponse:
    now = utcnow()
    async with state.db.read() as db:
        stats = await service.overview(db, session.shop_id)
        document = (await versions.load(db, session.shop_id)).at(now).document
        last = local_day(now, ZoneInfo(document.timezone))
        month = await reports.summary(db, session.shop_id, document, last - timedelta(29), last)
    chart = charts.bars(month.days, ("points_issued", "points_redeemed"))
    return await _page(request, state, "overview.html", session, page="overview", stats=stats,
                       days=month.days, chart=chart)  # fmt: skip


@router.get("/members")
async def members_page(request: Request, state: State, session: Signed) -> HTMLResponse:
    q = request.query_params.get("q")
    found = None
    if q is not None:
        async with state.db.read() as db:
            found = await service.search(db, session.shop_id, q[:200])
    return await _page(request, state, "members.html", session, page="members", q=q, found=found)


CustomerId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


@router.get("/members/{customer_id:path}")
async def member_page(
    customer_id: CustomerId, request: Request, state: State, session: Signed
) -> HTMLResponse:
    done = bool(request.query_params.get("done"))
    return await _member_view(request, state, session, customer_id, adjusted=done)


async def _member_view(
    request: Request, state: AppState, session: AdminSession, customer_id: str, *,
    adjusted: bool = False, error: str | None = None, status: int = 200,
) -> HTMLResponse:  # fmt: skip
    async with state.db.read() as db:
        member = await service.member(db, session.shop_id, customer_id)
        if member is None:
            return await _page(request, state, "members.html", session, page="members",
                               q=customer_id, found=[], status=404)  # fmt: skip
        balance = await balance_in(db, session.shop_id, customer_id)
        lines = await members.entries(db, session.shop_id, customer_id, limit=200, before_id=None)
        redeemed = await rewards.redemptions_of(db, session.shop_id, customer_id)
    shown = {
        "customer_id": customer_id,
        "name": " ".join(p for p in (member.first_name, member.last_name) if p),
        "tier": balance.tier,
        "points": {"available": balance.available, "pending": balance.pending,
                   "held": balance.held, "lifetime": balance.lifetime_earned},
    }  # fmt: skip
    return await _page(
        request, state, "member.html", session, page="members", member=shown, lines=lines,
        redemptions=redeemed, adjust_key=secrets.token_urlsafe(12),
        note_key="adjusted" if adjusted else None, error_key=error, status=status,
    )  # fmt: skip


@router.post("/members/{customer_id:path}/adjust")
async def adjust(
    customer_id: CustomerId, request: Request, state: State, session: Signed
) -> Response:
    form = await _form(request)
    _checked(session, form)
    try:
        points = int(form.get("points", "").strip())
    except ValueError:
        points = 0
    reason = form.get("reason", "").strip()
    key = form.get("key", "")
    problem = None  # a key of i18n.WORDS, shown on the page beside the form
    if points == 0 or not reason or not key:
        problem = "adjust_invalid"
    elif abs(points) > MAX_ADJUSTMENT_POINTS:
        problem = "adjust_too_big"
    if problem is not None:
        return await _member_view(request, state, session, customer_id, error=problem, status=422)
    try:
        async with state.db.write() as db:
            await adjustments.adjust(
                db, session.shop_id, customer_id, points,
                idempotency_key=f"admin:{key}", reason=reason[:200],
            )  # fmt: skip
    except IdempotencyConflict:  # the same form sent again with other values: not saved
        return await _member_view(
            request, state, session, customer_id, error="adjust_conflict", status=409
        )
    # The same form sent twice with the same values: the first one counted, nothing more.
    return RedirectResponse(f"/admin/members/{quote(customer_id, safe='')}?done=1", status_code=303)


@router.get("/jobs")
async def jobs_page(request: Request, state: State, session: Signed) -> HTMLResponse:
    async with state.db.read() as db:
        failed = await service.failed_jobs(db, session.shop_id)
        rejected = await service.rejected_webhooks(db, session.shop_id)
    # What the last button did (a retry here, a replay from app/admin/events_pages.py).
    done = request.query_params.get("done")
    note_key = {"1": "retried", "replayed": "replayed"}.get(done or "")
    error_key = "event_missing" if request.query_params.get("missing") else None
    return await _page(request, state, "jobs.html", session, page="jobs", failed=failed,
                       rejected=rejected, note_key=note_key, error_key=error_key)  # fmt: skip


@router.post("/jobs/{job_id}/retry")
async def retry_job(
    job_id: Annotated[int, Path(ge=1, le=2**63 - 1)], request: Request, state: State,
    session: Signed,
) -> Response:  # fmt: skip
    _checked(session, await _form(request))
    async with state.db.write() as db:
        await jobs.retry(db, job_ids=[job_id], shop_id=session.shop_id)
    state.worker.wake_for_jobs()
    return RedirectResponse("/admin/jobs?done=1", status_code=303)


_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


async def _settings_view(
    request: Request,
    state: AppState,
    session: AdminSession,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    async with state.db.read() as db:  # the stored choices, not the briefly cached ones
        shop = await db.get(Shop, session.shop_id)
        document = (await versions.load(db, session.shop_id)).latest.document
    stored = ProgramSettings.from_json(shop.settings if shop else None)
    shown = form or {
        "currency_display": stored.currency_display or "",
        "widget_colour": stored.widget_colour or "",
    }  # fmt: skip
    return await _page(
        request, state, "settings.html", session, page="settings", status=status,
        rial_shop=(document.currency or stored.currency) in ("IRR", "IRT"),
        currency_display=shown.get("currency_display", ""),
        widget_colour=shown.get("widget_colour", ""), errors=errors or {},
        note_key="settings_saved" if request.query_params.get("saved") else None,
    )  # fmt: skip


@router.get("/settings")
async def settings_page(request: Request, state: State, session: Signed) -> HTMLResponse:
    return await _settings_view(request, state, session)


@router.post("/settings")
async def save_settings(request: Request, state: State, session: Signed) -> Response:
    form = await _form(request)
    _checked(session, form)
    lang = form.get("lang", "")
    if lang not in i18n.LANGS:
        raise InvalidRequest("the language is fa or en")
    display = form.get("currency_display", "").strip()
    colour = form.get("widget_colour", "").strip()
    errors = {}  # field → the key of its error's words (in the page's language)
    if display not in ("", "rial", "toman"):
        errors["currency_display"] = "currency_display_bad"
    if colour and not _COLOUR.fullmatch(colour):
        errors["widget_colour"] = "widget_colour_bad"
    if errors:  # the form again, each error beside its field, nothing saved
        return await _settings_view(request, state, session, form=form, errors=errors, status=422)
    async with state.db.write() as db:
        await update_display(
            db, session.shop_id, currency_display=display or None,
            widget_colour=colour.lower() or None,
        )  # fmt: skip
    state.shops.forget()  # this process's next pages show the new choice at once
    response = RedirectResponse("/admin/settings?saved=1", status_code=303)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/exports/{what}.csv")
async def export_csv(
    what: Annotated[str, Path(pattern="^(members|ledger)$")], state: State, session: Signed
) -> Response:
    """The shop's members with their balances, or its ledger, as a CSV download."""
    read = exports.members_csv if what == "members" else exports.ledger_csv
    return StreamingResponse(
        read(state.db, session.shop_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="vafa-{what}.csv"'},
    )


REWARD_FIELDS = (
    "name", "kind", "points_cost", "value", "min_order_minor", "product_id", "code_valid_days",
    "min_points", "max_points",
)  # fmt: skip


async def _rewards_page(
    request: Request,
    state: AppState,
    session: AdminSession,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    async with state.db.read() as db:
        catalog = await rewards.list_rewards(db, session.shop_id)
    return await _page(request, state, "rewards.html", session, page="rewards", rewards=catalog,
                       errors=errors or {}, form=form or {}, status=status)  # fmt: skip


@router.get("/rewards")
async def rewards_page(request: Request, state: State, session: Signed) -> HTMLResponse:
    return await _rewards_page(request, state, session)


@router.post("/rewards")
async def add_reward(request: Request, state: State, session: Signed) -> Response:
    form = await _form(request)
    _checked(session, form)
    body, errors = forms.parse(RewardIn, form, REWARD_FIELDS)
    if body is None:
        return await _rewards_page(request, state, session, errors=errors, form=form, status=422)
    async with state.db.write() as db:
        await rewards.create_reward(db, session.shop_id, body)
    return RedirectResponse("/admin/rewards", status_code=303)


@router.post("/rewards/{reward_id}/active")
async def set_reward_active(
    reward_id: Annotated[int, Path(ge=1, le=2**63 - 1)], request: Request, state: State,
    session: Signed,
) -> Response:  # fmt: skip
    form = await _form(request)
    _checked(session, form)
    async with state.db.write() as db:
        await rewards.update_reward(
            db, session.shop_id, reward_id, RewardPatch(active=form.get("active") == "1")
        )
    return RedirectResponse("/admin/rewards", status_code=303)


@router.get("/redemptions")
async def redemptions_page(request: Request, state: State, session: Signed) -> HTMLResponse:
    async with state.db.read() as db:
        recent = await service.recent_redemptions(db, session.shop_id)
    return await _page(request, state, "redemptions.html", session, page="redemptions",
                       redemptions=recent)  # fmt: skip
