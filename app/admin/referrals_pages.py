"""``/admin/referrals``: the referrals a fraud check held for the store owner's review, with
what it found in words, and approve / reject buttons. The decisions are app/referrals' own
(``service.approve`` / ``service.reject``, as the API's ``/api/v1/referrals/{id}/…``): paid
now or when the order is past its hold period, or rejected with the owner's reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.admin import forms
from app.admin.auth import AdminSession
from app.admin.pages import Signed, _checked, _form, _page
from app.api.deps import State
from app.orm import utcnow
from app.referrals import service
from app.referrals.errors import ReferralDecided, ReferralNotFound
from app.referrals.models import Referral, ReferralStatus
from app.referrals.schemas import RejectIn
from app.state import AppState

router = APIRouter(prefix="/admin", include_in_schema=False)
PAGE_SIZE = 100
_MAX_ID = 2**63 - 1
ReferralId = Annotated[int, Path(ge=1, le=_MAX_ID)]


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and 0 < int(text) <= _MAX_ID else None


async def _review_page(
    request: Request, state: AppState, session: AdminSession, *,
    decided: int | None = None, error_key: str | None = None, failed: int | None = None,
    status: int = 200,
) -> HTMLResponse:  # fmt: skip
    before_id = _int(request.query_params.get("before_id"))
    shown: Referral | None = None
    async with state.db.read() as db:
        held = await service.listing(db, session.shop_id, status=ReferralStatus.REVIEW,
                                     limit=PAGE_SIZE, before_id=before_id)  # fmt: skip
        if decided is not None:
            try:
                shown = await service.get(db, session.shop_id, decided)
            except ReferralNotFound:
                shown = None
    return await _page(
        request, state, "referrals.html", session, page="referrals", held=held, decided=shown,
        older=held[-1].id if len(held) == PAGE_SIZE else None, failed=failed,
        error_key=error_key, status=status,
    )  # fmt: skip


@router.get("/referrals")
async def referrals_page(request: Request, state: State, session: Signed) -> HTMLResponse:
    return await _review_page(
        request, state, session, decided=_int(request.query_params.get("decided"))
    )


async def _decide(
    request: Request, state: AppState, session: AdminSession, referral_id: int, reason: str | None
) -> Response:
    try:
        async with state.db.write() as db:
            if reason is None:
                await service.approve(db, session.shop_id, referral_id, utcnow())
            else:
                await service.reject(db, session.shop_id, referral_id, reason, utcnow())
    except ReferralDecided:  # decided in another tab, or by the API, since the page was shown
        return await _review_page(request, state, session, decided=referral_id,
                                  error_key="referral_decided", status=409)  # fmt: skip
    except ReferralNotFound:
        return await _review_page(request, state, session, error_key="referral_missing",
                                  status=404)  # fmt: skip
    return RedirectResponse(f"/admin/referrals?decided={referral_id}", status_code=303)


@router.post("/referrals/{referral_id}/approve")
async def approve(
    referral_id: ReferralId, request: Request, state: State, session: Signed
) -> Response:
    _checked(session, await _form(request))
    return await _decide(request, state, session, referral_id, None)


@router.post("/referrals/{referral_id}/reject")
async def reject(
    referral_id: ReferralId, request: Request, state: State, session: Signed
) -> Response:
    form = await _form(request)
    _checked(session, form)
    body, _ = forms.parse(RejectIn, form, ("reason",))
    if body is None:
        return await _review_page(request, state, session, error_key="reject_reason_needed",
                                  failed=referral_id, status=422)  # fmt: skip
    return await _decide(request, state, session, referral_id, body.reason)
