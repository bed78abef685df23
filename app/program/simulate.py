"""What-if: a draft program replayed on the shop's real history, beside its live program.

The shop's stored webhook events (since a day, or all of them) are replayed twice, each time on
a throwaway SQLite database made from the app's metadata (``simulation/sandbox.py``): once with
the draft published as the shop's only program version, in force from the beginning, once with
the shop's own program versions. Both replays run the worker's own processing code, so a draft
equal to the live program gives the live ledger's totals; the live database is only read.

What is reported of each replay (``simulation/schemas.py`` says it field by field): points
issued; redemptions and expiry expected at the live ledger's historical rates (points redeemed,
and expired, per point issued; redemptions are members' choices, not in the events); points
outstanding; that liability in money, at the program's ``point_value_minor`` or else the shop's
rewards' highest value per point; the cost as a share of the paid orders' merchandise revenue;
members per tier where this Vafa has tiers.

The replays run on a thread with its own event loop and databases (:func:`simulate_in_thread`),
so the API's loop is never held for more than a switch of the interpreter's lock, and one
simulation runs at a time per process.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as clock
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from app.db import Database
from app.errors import NotFound, ValidationFailed
from app.program import versions
from app.program.document import DEFAULT_PURCHASE_KEY, ProgramDocument, PurchaseRule
from app.program.simulation import queries
from app.program.simulation.queries import LedgerTotals
from app.program.simulation.sandbox import ProgramRows, Sandbox
from app.program.simulation.schemas import (
    Assumptions,
    EventsReplayed,
    LedgerTotalsOut,
    Outcome,
    SimulationOut,
)
from app.program.versions import BEGINNING

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
    sandbox: Sandbox,
    redemption: Fraction,
    expiry: Fraction,
    point_value: tuple[Decimal | None, str | None],
) -> Outcome:
    async with sandbox.db.read() as session:
        totals = await queries.ledger_totals(session, sandbox.shop_id)
        revenues = await queries.revenue(session, sandbox.shop_id)
        tiers = await queries.members_per_tier(session, sandbox.shop_id)
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
    database_url: str,
    shop_id: int,
    draft: ProgramDocument,
    since: date | None = None,
    *,
    now: datetime,
    progress: Progress | None = None,
    batch: int | None = None,
) -> SimulationOut:
    """Replay shop ``shop_id``'s stored events under ``draft`` and under its live program, on
    throwaway databases, as the worker would process them at ``now``."""
    started = time.monotonic()
    start = start_of(since, now)
    live = Database(database_url, pool_size=1, max_overflow=0)
    try:
        async with live.read() as session:
            found = await queries.shop_and_program(session, shop_id)
            if found is None:
                raise NotFound(f"no shop {shop_id}")
            shop, program = found
            live_document = (await versions.load(session, shop_id)).latest.document
            ledger = await queries.ledger_totals(session, shop_id)
            reward_value = await queries.rewards_point_value(session, shop_id)
            total = await queries.count_events(session, shop_id, start)
        redemption = _rate(ledger.redeemed, ledger.issued)
        expiry = _rate(ledger.expired, ledger.issued)

        def value_of(document: ProgramDocument) -> tuple[Decimal | None, str | None]:
            if document.point_value_minor is not None:
                return document.point_value_minor, "document"
            return reward_value, "rewards" if reward_value is not None else None

        with tempfile.TemporaryDirectory(prefix="vafa-simulate-") as tmp:
            programs = {"draft": draft_program(draft, program.settings), "live": program}
            sandboxes: dict[str, Sandbox] = {}
            try:
                for name, rows in programs.items():
                    sandboxes[name] = await Sandbox.create(
                        Path(tmp) / f"{name}.db", shop, rows, **({"batch": batch} if batch else {})
                    )
                done = 0
                if progress:
                    progress(done, total)
                async for page in queries.stored_events(live, shop_id, start):
                    for sandbox in sandboxes.values():
                        await sandbox.add(page)
                        await sandbox.process(now)
                    done += len(page)
                    if progress:
                        progress(done, max(total, done))
                outcomes = {
                    "draft": await _outcome(sandboxes["draft"], redemption, expiry,
                                            value_of(draft)),
                    "live": await _outcome(sandboxes["live"], redemption, expiry,
                                           value_of(live_document)),
                }  # fmt: skip
                statuses = dict(sandboxes["draft"].statuses)
            finally:
                for sandbox in sandboxes.values():
                    await sandbox.dispose()
    finally:
        await live.dispose()
    return SimulationOut(
        shop_id=shop_id,
        since=since,
        replayed_at=now,
        events=EventsReplayed(replayed=done, by_status=statuses),
        assumptions=Assumptions(redemption_rate=_decimal(redemption), expiry_rate=_decimal(expiry)),
        draft=outcomes["draft"],
        live=outcomes["live"],
        ledger=_ledger_out(ledger),
        seconds=round(time.monotonic() - started, 3),
    )


async def simulate_in_thread(
    database_url: str,
    shop_id: int,
    draft: ProgramDocument,
    since: date | None = None,
    *,
    now: datetime,
    progress: Progress | None = None,
    batch: int | None = None,
) -> SimulationOut:
    """:func:`simulate` on a thread of its own, with its own event loop and engines; the
    caller's loop only awaits it. A second simulation waits for the first."""

    def run() -> SimulationOut:
        with _ONE_AT_A_TIME:
            return asyncio.run(
                simulate(
                    database_url, shop_id, draft, since, now=now, progress=progress, batch=batch
                )
            )

    return await asyncio.to_thread(run)
