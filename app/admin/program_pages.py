"""The admin's program page: the version in force, its rules in words, the version history, and
one form holding a draft of the whole document (``program_form.py``).

The form is posted back to itself with the button pressed as ``action``: add or remove a rule
or a tier level (the page comes back with the draft changed), ``simulate`` (the draft and the
live program replayed on the shop's stored events by the same code as ``POST
/api/v1/program/simulate``, shown side by side) or ``save`` (the draft published as a new
version, from now or a chosen time). The draft lives only in the form between posts. The
first submit button is Simulate, so pressing Enter in a field never removes or saves anything.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.admin import i18n, pages
from app.admin import program_form as pf
from app.admin.auth import AdminSession
from app.admin.program_words import describe, percent
from app.api.deps import State
from app.api.routing import read_at_most
from app.errors import ValidationFailed
from app.money import currency_exponent
from app.orm import utcnow
from app.program import service as program
from app.program import versions
from app.program.document import ProgramDocument
from app.program.simulate import simulate
from app.program.simulation.prefetch import CatalogUnavailable, store_catalog
from app.program.simulation.schemas import SimulationOut
from app.state import AppState

router = APIRouter(prefix="/admin", include_in_schema=False)
# A program of many rules is a long form (each rule about twenty fields).
MAX_PROGRAM_FORM_BYTES = 512 * 1024
_REMOVE = re.compile(r"^remove:(rules|tiers\.levels):(\d{1,4})$")
# What the owner may post besides the document's fields.
_CONTROL = ("csrf", "action", "add_type", "since", "effective_at")


async def _posted(request: Request) -> dict[str, str]:
    raw = await read_at_most(request, MAX_PROGRAM_FORM_BYTES)
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _anchors(values: dict[str, str]) -> set[str]:
    """Every path the page shows errors at: each field, each item, each section."""
    found = {"", "rules", "tiers", "tiers.levels", "since", "effective_at"}
    found |= {f.name for f in pf.DOCUMENT_FIELDS}
    found |= {f"leaderboard.{f.name}" for f in pf.LEADERBOARD_FIELDS} | {"leaderboard"}
    found |= {f"tiers.{f.name}" for f in pf.TIERS_FIELDS}
    for n in pf.indices(values, "rules"):
        fields = pf.RULE_FIELDS.get(values.get(f"rules.{n}.type", ""), [])
        found |= {f"rules.{n}"} | {f"rules.{n}.{f.name}" for f in fields}
        found |= {f"rules.{n}.{f.name.split('.')[0]}" for f in fields}
    for n in pf.indices(values, "tiers.levels"):
        found |= {f"tiers.levels.{n}"} | {f"tiers.levels.{n}.{f.name}" for f in pf.LEVEL_FIELDS}
        found |= {f"tiers.levels.{n}.names"}
    return found


def _placed(path: str, error: dict[str, Any], anchors: set[str]) -> str:
    """Where an error is shown: its own field, else the field a model-wide check names first
    ("ends_at must be after starts_at" → ends_at), else the nearest item or section."""
    parts = path.split(".") if path else []
    if error.get("type") == "value_error" and parts:
        said = str(error.get("msg", ""))
        for word in re.findall(r"[a-z_]+", said):
            if (candidate := f"{path}.{word}") in anchors:
                return candidate
    while parts and ".".join(parts) not in anchors:
        parts.pop()
    return ".".join(parts)


def _errors(
    found: list[tuple[str, dict[str, Any]]], values: dict[str, str], lang: str
) -> dict[str, str]:
    anchors = _anchors(values)
    shown: dict[str, str] = {}
    for path, error in found:
        where = _placed(path, error, anchors)
        text = pf.message(error, lang)
        shown[where] = (
            f"{shown[where]} {text}" if where in shown and text not in shown[where] else text
        )
    return shown


def _local_time(text: str, zone: ZoneInfo) -> datetime:
    local = datetime.fromisoformat(pf.ascii_digits(text).strip()).replace(tzinfo=zone)
    return local.astimezone(UTC)


async def _view(
    request: Request,
    state: AppState,
    session: AdminSession,
    values: dict[str, str] | None = None,
    *,
    errors: dict[str, str] | None = None,
    result: SimulationOut | None = None,
    control: dict[str, str] | None = None,
    note: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    now = utcnow()
    async with state.db.read() as db:
        history = await versions.load(db, session.shop_id)
    live = history.latest.document
    lang = pages._lang(request, live.locale)
    if values is None:
        values = pf.to_form(live, ZoneInfo(live.timezone))
    zone_name = pf.zone_of(values, live.timezone).key
    currency = live.currency or (result.live.currency if result else None)
    exponent = currency_exponent(currency, live.currency_exponents) if currency else 2

    def money(minor: int | None) -> str:
        return "—" if minor is None else i18n.money(int(minor), exponent, currency, lang)

    in_force = history.at(now)
    rules = in_force.document.rules
    shown_versions = [
        {"version": v.version, "effective_at": v.effective_at, "rules": len(v.document.rules),
         "current": v is in_force, "future": v.effective_at > now}
        for v in reversed(history.versions)
    ]  # fmt: skip
    return await pages._page(
        request, state, "program.html", session, page="program", status=status,
        current=in_force, described=[describe(r, in_force.document, lang) for r in rules],
        program_versions=shown_versions, values=values, errors=errors or {}, result=result,
        control=control or {}, money=money, zone_name=zone_name, note=note, error=error,
        rule_types=pf.RULE_TYPES, rule_fields=pf.RULE_FIELDS, tier_fields=pf.TIERS_FIELDS,
        level_fields=pf.LEVEL_FIELDS, leaderboard_fields=pf.LEADERBOARD_FIELDS,
        document_fields=pf.DOCUMENT_FIELDS, rule_indices=pf.indices(values, "rules"),
        level_indices=pf.indices(values, "tiers.levels"), extra=pf.EXTRA,
        share=lambda d: percent(d, lang), beginning=versions.BEGINNING,
    )  # fmt: skip


@router.get("/program")
async def program_page(request: Request, state: State, session: pages.Signed) -> HTMLResponse:
    saved = request.query_params.get("saved", "")
    note = None
    if saved.isdigit():
        lang = pages._lang(request, "en")
        note = i18n.WORDS[lang]["program_saved"].format(version=i18n.number(int(saved), lang))
    return await _view(request, state, session, note=note)


@router.post("/program")
async def program_post(request: Request, state: State, session: pages.Signed) -> Response:
    form = await _posted(request)
    pages._checked(session, form)
    action = form.get("action", "simulate")
    control = {k: form.get(k, "") for k in _CONTROL if k != "csrf"}
    values = {k: v for k, v in form.items() if k not in _CONTROL}
    async with state.db.read() as db:
        live = (await versions.load(db, session.shop_id)).latest.document
    zone = pf.zone_of(values, live.timezone)
    lang = pages._lang(request, live.locale)
    if action == "add_rule" and form.get("add_type") in pf.RULE_MODELS:
        return await _view(
            request, state, session, pf.add_rule(values, form["add_type"]), control=control
        )
    if action == "add_level":
        return await _view(request, state, session, pf.add_level(values), control=control)
    if action == "tiers_off":
        return await _view(request, state, session, {**values, pf.TIERS_ON: ""}, control=control)
    if (removed := _REMOVE.match(action)) is not None:
        changed = pf.remove(values, removed.group(1), int(removed.group(2)))
        return await _view(request, state, session, changed, control=control)
    if action not in ("simulate", "save"):
        raise ValidationFailed("action: unknown")
    draft, found = pf.parse(values, zone)
    errors = _errors(found, values, lang)
    if draft is None:
        return await _view(
            request, state, session, values, errors=errors, control=control, status=422
        )
    if action == "simulate":
        return await _simulated(request, state, session, values, draft, control, lang)
    return await _save(request, state, session, values, draft, control, zone, lang)


async def _simulated(
    request: Request, state: AppState, session: AdminSession, values: dict[str, str],
    draft: ProgramDocument, control: dict[str, str], lang: str,
) -> HTMLResponse:  # fmt: skip
    since: date | None = None
    text = pf.ascii_digits(control.get("since", "")).strip()
    try:
        since = date.fromisoformat(text) if text else None
        async with store_catalog(state.db, state.vault) as catalog:
            result = await simulate(
                state.db, session.shop_id, draft, since, now=utcnow(), catalog=catalog
            )
    except ValueError:
        bad = {"since": i18n.WORDS[lang]["pe_date_parsing"]}
        return await _view(request, state, session, values, errors=bad, control=control, status=422)
    except ValidationFailed:  # a day in the future
        bad = {"since": i18n.WORDS[lang]["since_future"]}
        return await _view(request, state, session, values, errors=bad, control=control, status=422)
    except CatalogUnavailable:  # the draft's collections could not be asked of the store
        unavailable = i18n.WORDS[lang]["simulate_store_unavailable"]
        return await _view(request, state, session, values, error=unavailable, control=control,
                           status=502)  # fmt: skip
    return await _view(request, state, session, values, result=result, control=control)


async def _save(
    request: Request, state: AppState, session: AdminSession, values: dict[str, str],
    draft: ProgramDocument, control: dict[str, str], zone: ZoneInfo, lang: str,
) -> Response:  # fmt: skip
    words = i18n.WORDS[lang]
    when: datetime | None = None
    if text := control.get("effective_at", "").strip():
        try:
            when = _local_time(text, zone)
        except (ValueError, OverflowError):
            bad = {"effective_at": words["pe_datetime_parsing"]}
            return await _view(
                request, state, session, values, errors=bad, control=control, status=422
            )
    try:
        async with state.db.write() as db:
            version, created = await program.publish(db, session.shop_id, draft, utcnow(), when)
    except ValidationFailed:  # in the past, or before the newest version takes effect
        bad = {"effective_at": words["effective_past"]}
        return await _view(request, state, session, values, errors=bad, control=control, status=422)
    if not created:
        return await _view(
            request, state, session, values, control=control, note=words["program_same"]
        )
    return RedirectResponse(f"/admin/program?saved={version.version}", status_code=303)
