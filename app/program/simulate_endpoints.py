"""``POST /api/v1/program/simulate``: a draft program replayed on the shop's stored events,
beside the live program (``app/program/simulate.py``)."""

from __future__ import annotations

from app.api.deps import CurrentShop, State
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import PayloadTooLarge, ValidationFailed
from app.orm import utcnow
from app.program.simulate import simulate, start_of
from app.program.simulation.prefetch import CatalogUnavailable, store_catalog
from app.program.simulation.schemas import SimulateIn, SimulationOut

router = admin_router("/api/v1", tags=["program"])


@router.post(
    "/program/simulate",
    response_model=SimulationOut,
    summary="What-if: replay the shop's history under a draft program",
    responses=error_responses(PayloadTooLarge, ValidationFailed, CatalogUnavailable),
)
async def simulate_program(body: SimulateIn, shop: CurrentShop, state: State) -> SimulationOut:
    """The shop's stored webhook events (received since ``since``, or all) are processed
    twice on throwaway databases, under the draft and under the live program; the live ledger
    is only read. Answers when both replays are done: each costs about half a millisecond of
    one core per event, and the two run at once. A draft matching collections or categories
    has the products Vafa knows no groups of asked of the store first (a 502 if it cannot
    say)."""
    now = utcnow()
    start_of(body.since, now)  # a day in the future is refused before any work
    async with store_catalog(state.db, state.vault) as catalog:
        return await simulate(
            state.db, shop.shop_id, body.draft, body.since, now=now, catalog=catalog
        )
