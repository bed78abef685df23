"""What-if: a draft program replayed on the shop's real history, beside its live program.

The shop's stored webhook events (received since a day, or all of them, up to the last one
stored when the simulation starts) are replayed twice, each time on a throwaway SQLite database
made from the app's metadata (``simulation/sandbox.py``): once with the draft published as the
shop's only program version, in force from the beginning, once with the shop's own program
versions. Both replays run the worker's own processing code, so a draft equal to the live
program gives the live ledger's totals; the live database is only read.

What is reported of each replay (``simulation/schemas.py`` says it field by field): points
issued; redemptions and expiry expected at the live ledger's historical rates (points redeemed,
and expired, per point issued: redemptions are members' choices, not in the events, and no
expiry runs in a replay); points outstanding; that liability in money, at the program's
``point_value_minor``, else the shop's rewards' highest value per point; the cost as a share of
the paid orders' merchandise revenue; members per tier where this Vafa has tiers.

The two replays run at once, each in a process of its own (``simulation/replay.py``): the
caller's event loop only waits for them, and one simulation runs at a time per process. A draft
that matches collections or categories first has the window's products the live database
knows no groups of fetched from the store (``simulation/prefetch.py``), so that it is judged
with them; if the store cannot say, the simulation fails rather than judge without them.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as clock
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from app.db import Database
from app.errors import NotFound, ValidationFailed
from app.program import versions
from app.program.catalog import Catalog
from app.program.document import DEFAULT_PURCHASE_KEY, ProgramDocument, PurchaseRule
from app.program.settings import ProgramSettings
from app.program.simulation import queries
from app.program.simulation.prefetch import prefetch_groups
from app.program.simulation.queries import LedgerTotals
from app.program.simulation.replay import Replay, Replayed, Source, run_replays
from app.program.simulation.sandbox import BATCH_EVENTS, ProgramRows
from app.program.simulation.schemas import (
    Assumptions,
    EventsReplayed,
    LedgerTotalsOut,
    Outcome,
    SimulationOut,
)
from app.program.versions import BEGINNING
from app.tiers import service as tiers_service

Progress = Callable[[int, int], None]  # (events replayed, events in all)

_ONE_AT_A_TIME = threading.Lock()
_SHARE_PLACES = Decimal("0.000001")


def start_of(since: date | None, now: datetime) -> datetime | None:
    """The first instant replayed: ``since`` at 00:00 UTC. A day after today is refused."""
    if since is None:
        return None
    if since > now.astimezone(UTC).date():
        raise ValidationFailed(f"since: {since.isoformat()} is in the future")
    return datetime.combine(since, clock(), UTC)


def draft_program(document: ProgramDocument, settings: dict[str, Any]) -> ProgramRows:
    """The draft as a shop's whole program: its only version, in force from the beginning, and
    the shop's ``settings`` saying the same (what processing read before program versions)."""
    said = {**settings, **document.policies().to_json()}
    if "points_per_unit" in ProgramSettings.model_fields:  # an engine that reads the settings
        said["points_per_unit"] = str(_points_per_unit(document, settings))
    return ProgramRows(said, ((1, BEGINNING, document.to_json()),))


def _points_per_unit(document: ProgramDocument, settings: dict[str, Any]) -> Decimal:
    """The settings' rate of a draft whose purchase points it can say (the default rule's
    shape: points per whole units); else the shop's own."""
    purchases = [r for r in document.rules if isinstance(r, PurchaseRule) and r.active]
    if not purchases:
        return Decimal(0)
    rule = purchases[0]
    plain = (
        len(purchases) == 1
        and rule.key == DEFAULT_PURCHASE_KEY
        and rule.per_minor is None
        and not (rule.multipliers or rule.exclusions or rule.min_order_minor)
    )
    if plain:
        return Decimal(rule.points) / Decimal(rule.per_units)
    return Decimal(str(settings.get("points_per_unit", 1)))


def _rate(part: int, issued: int) -> Fraction:
    return Fraction(max(part, 0), issued) if issued > 0 else Fraction(0)


def _decimal(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(_SHARE_PLACES)


async def _outcome(
    path: Path,
    shop_id: int,
    redemption: Fraction,
    expiry: Fraction,
    point_value: tuple[Decimal | None, Literal["document", "rewards"] | None],
) -> Outcome:
    """What one replay's sandbox holds, once its process is done."""
    sandbox = Database(f"sqlite+aiosqlite:///{path}", pool_size=1, max_overflow=0)
    try:
        async with sandbox.read() as session:
            totals = await queries.ledger_totals(session, shop_id)
            revenues = await queries.revenue(session, shop_id)
            tiers = await tiers_service.members_per_tier(session, shop_id)
    finally:
        await sandbox.dispose()
    issued = totals.issued
    redeemed = int(issued * redemption)  # rounded down, as int() of a Fraction is
    expired = int(issued * expiry)
    outstanding = issued - redeemed - expired
    value, source = point_value
    liability = None
    if value is not None:
        liability = int((outstanding * value).to_integral_value(rounding=ROUND_HALF_UP))
    main = revenues[0] if revenues else None
    revenue = main.merchandise_minor if main else 0
    share = None
    if liability is not None and revenue > 0:
        share = _decimal(Fraction(liability, revenue))
    return Outcome(
        points_issued=issued,
        expected_redemptions=redeemed,
        expected_expiry=expired,
        points_outstanding=outstanding,
        members_with_points=totals.members,
        point_value_minor=value,
        point_value_source=source,
        liability_minor=liability,
        currency=main.currency if main else None,
        revenue_minor=revenue,
        cost_share=share,
        members_per_tier=tiers,
    )


def _ledger_out(totals: LedgerTotals) -> LedgerTotalsOut:
    return LedgerTotalsOut(
        points_issued=totals.issued,
        points_redeemed=totals.redeemed,
        points_expired=totals.expired,
        points_adjusted=totals.adjusted,
        points_outstanding=totals.outstanding,
    )


async def simulate(
    db: Database,
    shop_id: int,
    draft: ProgramDocument,
    since: date | None = None,
    *,
    now: datetime,
    progress: Progress | None = None,
    batch: int = BATCH_EVENTS,
    catalog: Catalog | None = None,
    fetching: Progress | None = None,
) -> SimulationOut:
    """Replay shop ``shop_id``'s stored events under ``draft`` and under its live program, on
    throwaway databases, as the worker would process them at ``now``. ``db`` is the live
    database: only read, here and by the replays' processes, but for the product groups cache,
    which a draft matching groups has filled from ``catalog`` first (``fetching``: products
    fetched, products to fetch); without a catalog such a draft fails if any are missing."""
    started = time.monotonic()
    start = start_of(since, now)
    async with db.read() as session:
        found = await queries.shop_and_program(session, shop_id)
        if found is None:
            raise NotFound(f"no shop {shop_id}")
        shop, program = found
        live_document = (await versions.load(session, shop_id)).latest.document
        ledger = await queries.ledger_totals(session, shop_id)
        reward_value = await queries.rewards_point_value(session, shop_id)
        total, last = await queries.event_range(session, shop_id, start)
    # Before the replays copy the cache (outside any transaction: it calls the store).
    await prefetch_groups(db, shop_id, draft, start, now, catalog, fetching)
    redemption = _rate(ledger.redeemed, ledger.issued)
    expiry = _rate(ledger.expired, ledger.issued)

    def value_of(
        document: ProgramDocument,
    ) -> tuple[Decimal | None, Literal["document", "rewards"] | None]:
        if document.point_value_minor is not None:
            return document.point_value_minor, "document"
        if reward_value is not None:
            return reward_value, "rewards"
        return None, None

    def replays_done(done: int) -> None:
        if progress:
            progress(done, max(total, done))

    stop = threading.Event()

    def run(replays: list[Replay], source: Source) -> dict[str, Replayed]:
        with _ONE_AT_A_TIME:
            return run_replays(replays, source, replays_done, stop)

    tmp = await asyncio.to_thread(tempfile.mkdtemp, prefix="vafa-simulate-")
    try:
        replays = [
            Replay("draft", Path(tmp) / "draft.db", draft_program(draft, program.settings)),
            Replay("live", Path(tmp) / "live.db", program),
        ]
        replays_done(0)
        try:
            replayed = await asyncio.to_thread(
                run, replays, Source(db.url, shop, start, last, now, batch)
            )
        except asyncio.CancelledError:
            stop.set()  # the caller is gone (a request cancelled): end the replays too
            raise
        draft_out = await _outcome(replays[0].path, shop_id, redemption, expiry, value_of(draft))
        live_out = await _outcome(
            replays[1].path, shop_id, redemption, expiry, value_of(live_document)
        )
    finally:
        # Off the loop: unlinking the sandboxes' files (hundreds of MB) takes a while.
        await asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True)
    return SimulationOut(
        shop_id=shop_id,
        since=since,
        replayed_at=now,
        events=EventsReplayed(
            replayed=sum(replayed["draft"].statuses.values()),
            by_status=replayed["draft"].statuses,
        ),
        assumptions=Assumptions(redemption_rate=_decimal(redemption), expiry_rate=_decimal(expiry)),
        draft=draft_out,
        live=live_out,
        ledger=_ledger_out(ledger),
        seconds=round(time.monotonic() - started, 3),
        replay_cpu_seconds={name: round(r.cpu_seconds, 3) for name, r in replayed.items()},
    )
