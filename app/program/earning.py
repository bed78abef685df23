"""What an order should carry now, by rule: a pure function of the order's state, its refunds,
the awards its program version gives it (``engine.Program.awards``) and the shop's policies
(no database, no clock). ``ledger_diff`` posts the difference
between this and what the ledger holds.

Times come from the order itself, never from when the worker runs, so rebuilding the ledger
from the raw events later gives the same lots: points count as earned when the order was paid
(``paid_at``, else the snapshot's ``updated_at``), become available when the hold ends, and
expire ``expiry_days`` after that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from app.connectors.base import RefundLine
from app.program.engine import Award, Weighting
from app.program.rules import OrderFacts, clamp_points, is_earning, remaining_points
from app.program.settings import ProgramSettings


class HeldOrderFacts(OrderFacts, Protocol):
    @property
    def release_at(self) -> datetime | None:
        """When the order's pending points were set to become available, if they are held."""
        ...


class RefundFacts(Protocol):
    @property
    def refund_id(self) -> str: ...
    @property
    def merchandise_minor(self) -> int: ...
    @property
    def refunded_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: str
    merchandise_minor: int  # never below zero
    refunded_at: datetime | None
    lines: tuple[RefundLine, ...] = ()  # the refunded lines, where the platform said
    # Of the refund, merchandise that never earned (a paid membership), not in the above.
    not_earning_minor: int = 0


@dataclass(frozen=True, slots=True)
class Carry:
    """What one rule says the order should carry."""

    rule: str
    segment: str | None
    earns: int  # the paid order's points by this rule before refunds, whether it earns now or not
    merchandise_minor: int
    earning: bool  # the order earns now (paid, a member's, not cancelled nor deleted)
    refunded_minor: int  # merchandise of every refund known
    why: str = ""  # the earn line's reason after "N points: " (the award's)
    # A purchase award's line weights: then ``merchandise_minor`` and ``refunded_minor`` are
    # what the lines counted (``engine.Weighting``), and a refund takes back its lines' part.
    weighting: Weighting | None = None

    def kept(self, refunded_minor: int) -> int:
        """Points the order keeps once ``refunded_minor`` of its merchandise is refunded (in
        :meth:`share` units): in [0, earns], whatever the refunds say."""
        return remaining_points(self.earns, self.merchandise_minor, refunded_minor)

    def share(self, refund: Refund) -> int:
        """What ``refund`` takes of what the carry was earned on."""
        if self.weighting is None:
            return refund.merchandise_minor
        return self.weighting.share(refund.merchandise_minor, refund.lines)

    @property
    def target(self) -> int:
        """The points the order should carry now."""
        return self.kept(self.refunded_minor) if self.earning else 0


@dataclass(frozen=True, slots=True)
class Targets:
    carries: tuple[Carry, ...]
    refunds: tuple[Refund, ...]  # oldest first
    earned_at: datetime | None  # when the points count as earned
    hold_until: datetime | None  # points wait in pending until then
    expires_at: datetime | None  # of the lot the order's available points make (None: never)


def should_carry(
    order: HeldOrderFacts,
    refunds: Sequence[RefundFacts],
    settings: ProgramSettings,
    awards: Sequence[Award],
    merchandise_minor: int | None = None,
) -> Targets:
    """``awards``: what the order's rules give it (a reward granted carries no points and is
    granted apart, ``reconcile.reconcile_many``); ``merchandise_minor``: what they were earned
    on, that refunds take their share of (default: the order's merchandise)."""
    earning = is_earning(order)
    known_refunds = _oldest_first(refunds)
    refunded = sum(r.merchandise_minor for r in known_refunds)
    carries = tuple(
        Carry(
            rule=award.rule,
            segment=award.segment,
            earns=clamp_points(award.points),
            merchandise_minor=(
                order.merchandise_minor if merchandise_minor is None else merchandise_minor
            ),
            earning=earning,
            refunded_minor=refunded,
            why=award.why,
        )
        if award.weighting is None
        else Carry(
            rule=award.rule,
            segment=award.segment,
            earns=clamp_points(award.points),
            merchandise_minor=award.weighting.counted,
            earning=earning,
            refunded_minor=sum(
                award.weighting.share(r.merchandise_minor, r.lines) for r in known_refunds
            ),
            why=award.why,
            weighting=award.weighting,
        )
        for award in awards
        if award.reward_id is None
    )
    earned_at = order.paid_at or order.source_updated_at
    hold_until = order.release_at
    if hold_until is None and settings.hold_days > 0 and earned_at is not None:
        hold_until = earned_at + timedelta(days=settings.hold_days)
    available_from = hold_until or earned_at
    expires_at = None
    if settings.expiry_days and available_from is not None:
        expires_at = available_from + timedelta(days=settings.expiry_days)
    return Targets(carries, known_refunds, earned_at, hold_until, expires_at)


def _oldest_first(refunds: Sequence[RefundFacts]) -> tuple[Refund, ...]:
    """Oldest first; ids compare as numbers where they are numbers ("999" before "1000")."""
    ordered = sorted(
        refunds,
        key=lambda r: (r.refunded_at is None, r.refunded_at, len(r.refund_id), r.refund_id),
    )
    return tuple(
        replace(r, merchandise_minor=max(r.merchandise_minor, 0))
        if isinstance(r, Refund)
        else Refund(r.refund_id, max(r.merchandise_minor, 0), r.refunded_at)
        for r in ordered
    )
