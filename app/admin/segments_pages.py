"""The admin's segments page, read-only: every segment (the RFM ones, then the shop's own) with
its label in the page's language, its kind, its size and the time of the last refresh."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.admin.pages import Signed, _page
from app.api.deps import State
from app.segments import service
from app.segments.rfm import RFM_SEGMENTS
from app.segments.schemas import RFM_NAMES

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/segments")
async def segments_page(request: Request, state: State, session: Signed) -> HTMLResponse:
    async with state.db.read() as db:
        sizes = await service.sizes(db, session.shop_id)
        refreshed = await service.last_refresh(db, session.shop_id)
        own = await service.definitions(db, session.shop_id)
    rows: list[dict[str, Any]] = [
        {"key": key, "names": RFM_NAMES[key], "rfm": True, "members": sizes.get(key, 0)}
        for key in RFM_SEGMENTS
    ]
    rows += [{"key": d.key, "names": d.names, "rfm": False, "members": sizes.get(d.key, 0)}
             for d in own]  # fmt: skip
    return await _page(request, state, "segments.html", session, page="segments", rows=rows,
                       refreshed=refreshed)  # fmt: skip
