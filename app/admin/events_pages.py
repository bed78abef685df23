"""``/admin/events/{id}/replay``: a parked webhook event (rejected or failed, listed on the jobs
page) queued again, by the same function as ``vafa events replay --id`` — scoped to the
signed-in shop, so another shop's event id replays nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from app.admin.pages import Signed, _checked, _form
from app.api.deps import State
from app.webhooks.processing import replay

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.post("/events/{event_id}/replay")
async def replay_event(
    event_id: Annotated[int, Path(ge=1, le=2**63 - 1)], request: Request, state: State,
    session: Signed,
) -> Response:  # fmt: skip
    _checked(session, await _form(request))
    queued = await replay(state.db, shop_id=session.shop_id, event_ids=[event_id])
    if not queued:
        return RedirectResponse("/admin/jobs?missing=1", status_code=303)
    state.wake_worker.set()
    return RedirectResponse("/admin/jobs?done=replayed", status_code=303)
