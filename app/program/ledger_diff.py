"""The ledger entries that take what the ledger holds for an order to what its rules say it
should carry (``earning.should_carry``). Only the difference is posted, under keys built from
the platform's ids and the rule's segment (none for the default rule):

    order:<id>:earn[:<segment>]                  the points the paid order earns
    refund:<order>:<refund>:reverse[:<segment>]  each refund, in proportion to its merchandise
    order:<id>:cancel | :refunded | :deleted[:<segment>]   the order stops earning
    order:<id>:settle[:<segment>]:<n>            any other difference (a restore, an edit, ...)
    order:<id>:release[:<segment>]               pending points become available after the hold

A duplicate delivery therefore posts nothing, and the keys the default rule posts are the ones
Vafa posted before it had rules: an event processed again over an existing ledger posts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from app.connectors.base import FinancialState
from app.ledger import service as ledger
from app.ledger.models import SYSTEM_OWNER, AccountKind, TxKind
from app.program.document import DEFAULT_PURCHASE_KEY
from app.program.earning import Carry, HeldOrderFacts, Targets
from app.program.rules import DEFAULT_RULE, format_money
from app.program.settings import ProgramSettings


@dataclass(slots=True)
class Holding:
    """What the ledger holds for one order under one rule."""

    pending: int = 0
    available: int = 0
    uncollected: int = 0
    keys: set[str] = field(default_factory=set)

    @property
    def effective(self) -> int:
        # A clawback the shop's policy did not collect still counts as reversed.
        return self.pending + self.available - self.uncollected


@dataclass(slots=True)
class OrderHolding:
    """What the ledger holds for one order, by rule (a transaction without a rule is the
    default rule's: releases were posted without one)."""

    owner: str | None = None
    rules: dict[str, Holding] = field(default_factory=dict)

    def of(self, rule: str | None) -> Holding:
        return self.rules.setdefault(rule or DEFAULT_RULE, Holding())


class DiffOrder(HeldOrderFacts, Protocol):
    """The order state the diff reads, and the one field it keeps: when held points release."""

    @property
    def name(self) -> str | None: ...
    @property
    def currency(self) -> str | None: ...

    release_at: datetime | None


def plan(
    order: DiffOrder,
    held: OrderHolding,
    targets: Targets,
    settings: ProgramSettings,
    now: datetime,
) -> list[ledger.Entry]:
    """The entries for every rule of the order; sets ``order.release_at`` while points are held.
    ``held`` is updated as the entries would move it."""
    owner = held.owner or order.customer_id
    if owner is None:
        return []  # a guest order earns nothing
    on_hold = targets.hold_until is not None and targets.hold_until > now
    # Points become available at the hold's end, or when earned; the lot expires from then.
    expires_at = targets.expires_at
    if expires_at is None and settings.expiry_days and targets.earned_at is None:
        expires_at = now + timedelta(days=settings.expiry_days)  # a state with no time at all
    entries: list[ledger.Entry] = []
    for carry in targets.carries:
        diff = _RuleDiff(order, owner, held.of(carry.rule), carry, settings, on_hold, expires_at)
        entries.extend(diff.entries(targets))
        if diff.held_points:
            order.release_at = targets.hold_until
    if all(h.pending == 0 for h in held.rules.values()):
        order.release_at = None
    return entries


class _RuleDiff:
    def __init__(
        self,
        order: DiffOrder,
        owner: str,
        held: Holding,
        carry: Carry,
        settings: ProgramSettings,
        on_hold: bool,
        expires_at: datetime | None,
    ) -> None:
        self.order, self.owner, self.held, self.carry = order, owner, held, carry
        self.settings, self.on_hold, self.expires_at = settings, on_hold, expires_at
        self.label = order.name or f"#{order.order_id}"
        self.suffix = f":{carry.segment}" if carry.segment else ""
        # Every line but the earn (whose reason says it all) names its rule at the end.
        self.named = f" (rule {carry.segment or DEFAULT_PURCHASE_KEY})" if carry.why else ""
        self.held_points = False
        self.out: list[ledger.Entry] = []

    def entries(self, targets: Targets) -> list[ledger.Entry]:
        order, held, carry = self.order, self.held, self.carry
        earn_key = f"order:{order.order_id}:earn{self.suffix}"
        if carry.earning and carry.earns > 0 and earn_key not in held.keys:
            if carry.why:
                why = f"{carry.earns} points: {carry.why}"
            else:
                money = format_money(order.merchandise_minor, order.exponent, order.currency)
                why = f"Earned {carry.earns} points for order {self.label}: {money} of merchandise"
            self._credit(earn_key, carry.earns, why)
        if earn_key not in held.keys:
            return self.out

        reverse_key = f"refund:{order.order_id}:{{}}:reverse{self.suffix}"
        refunded = sum(
            carry.share(r) for r in targets.refunds if reverse_key.format(r.refund_id) in held.keys
        )
        for refund in targets.refunds:
            key = reverse_key.format(refund.refund_id)
            if key in held.keys:
                continue
            refunded += carry.share(refund)
            points = max(0, held.effective - carry.kept(refunded))
            amount = format_money(
                refund.merchandise_minor + refund.not_earning_minor, order.exponent, order.currency
            )
            why = (
                f"Reversed {points} points for refund {refund.refund_id} of order {self.label}: "
                f"{amount} of merchandise refunded"
            )
            if refund.not_earning_minor:
                left_out = format_money(refund.not_earning_minor, order.exponent, order.currency)
                why += f" ({left_out} of it the paid membership, which earned no points)"
            self._debit(key, points, why, ("refund", refund.refund_id))

        target = carry.kept(refunded) if carry.earning else 0
        difference = target - held.effective
        if difference < 0:
            key = self._settle_key() if carry.earning else self._stop_key()
            self._debit(
                key,
                -difference,
                f"Reversed {-difference} points of order {self.label}: {self._why_not()}",
                ("order", order.order_id),
            )
        elif difference > 0:
            self._earn_again(difference, target)

        if held.pending > 0 and not self.on_hold:
            self._release()
        return self.out

    def _entry(
        self,
        key: str,
        kind: str,
        legs: tuple[ledger.Leg, ...],
        reason: str,
        source: tuple[str, str] | None = None,
        *,
        expires_at: datetime | None = None,
        cap_at_available: bool = False,
        uncollected: int = 0,
    ) -> None:
        source_type, source_id = source or ("order", self.order.order_id)
        self.out.append(
            ledger.Entry(
                key=key,
                kind=kind,
                owner=self.owner,
                legs=legs,
                reason=reason,
                source_type=source_type,
                source_id=source_id,
                order_id=self.order.order_id,
                rule=self.carry.rule,
                cap_at_available=cap_at_available,
                expires_at=expires_at,
                uncollected=uncollected,
            )
        )
        self.held.keys.add(key)

    def _credit(self, key: str, points: int, reason: str) -> None:
        account = AccountKind.PENDING if self.on_hold else AccountKind.AVAILABLE
        legs = (
            ledger.Leg(self.owner, account, points),
            ledger.Leg(SYSTEM_OWNER, AccountKind.ISSUED, -points),
        )
        self._entry(key, TxKind.EARN, legs, reason, expires_at=self.expires_at)
        if account == AccountKind.PENDING:
            self.held_points = True
            self.held.pending += points
        else:
            self.held.available += points

    def _debit(self, key: str, points: int, reason: str, source: tuple[str, str]) -> None:
        held = self.held
        from_pending = min(points, max(held.pending, 0))
        from_available = points - from_pending
        legs = [ledger.Leg(SYSTEM_OWNER, AccountKind.ISSUED, points)]
        if from_pending:
            legs.append(ledger.Leg(self.owner, AccountKind.PENDING, -from_pending))
        if from_available:
            legs.append(ledger.Leg(self.owner, AccountKind.AVAILABLE, -from_available))
        if points == 0:
            legs = []
        # What a capped clawback cannot collect still counts as reversed, so the holding is
        # right whichever way the cap falls.
        self._entry(key, TxKind.REVERSE, tuple(legs), reason + self.named, source,
                    cap_at_available=not self.settings.allow_negative_balance)  # fmt: skip
        held.pending -= from_pending
        held.available -= from_available

    def _earn_again(self, difference: int, target: int) -> None:
        # Points a capped clawback could not take back are still with the member: an order
        # that earns again counts them as its own first, and only the rest is credited.
        reinstated = min(difference, self.held.uncollected)
        if reinstated:
            self._entry(
                self._settle_key(),
                TxKind.EARN,
                (),
                f"Order {self.label} earns again: {reinstated} points it could not take "
                f"back are counted as its own again{self.named}",
                uncollected=-reinstated,
            )
            self.held.uncollected -= reinstated
        if difference > reinstated:
            self._credit(
                self._settle_key(),
                difference - reinstated,
                f"Restored {difference - reinstated} points of order {self.label}: "
                f"the order earns {target} now{self.named}",
            )

    def _release(self) -> None:
        key = f"order:{self.order.order_id}:release{self.suffix}"
        if key in self.held.keys:
            key = self._settle_key("release")
        points = self.held.pending
        legs = (
            ledger.Leg(self.owner, AccountKind.PENDING, -points),
            ledger.Leg(self.owner, AccountKind.AVAILABLE, points),
        )
        reason = (
            f"{points} points of order {self.label} became available after "
            f"the {self.settings.hold_days}-day hold{self.named}"
        )
        self._entry(key, TxKind.RELEASE, legs, reason, expires_at=self.expires_at)
        self.held.available += points
        self.held.pending = 0

    def _stop_key(self) -> str:
        """The key of a transaction that takes an order's remaining points away."""
        order = self.order
        if order.deleted:
            word = "deleted"
        elif order.cancelled:
            word = "cancel"
        elif order.financial_state == FinancialState.REFUNDED:
            word = "refunded"
        else:
            return self._settle_key()
        named = f"order:{order.order_id}:{word}{self.suffix}"
        return named if named not in self.held.keys else self._settle_key()

    def _settle_key(self, word: str = "settle") -> str:
        segment = f"{self.carry.segment}:" if self.carry.segment else ""
        prefix = f"order:{self.order.order_id}:{word}:{segment}"
        return f"{prefix}{sum(1 for k in self.held.keys if k.startswith(prefix)) + 1}"

    def _why_not(self) -> str:
        order = self.order
        if self.carry.earning:
            return "the order's merchandise changed"
        if order.deleted:
            return "the order was deleted"
        if order.cancelled:
            return "the order was cancelled"
        if order.financial_state == FinancialState.REFUNDED:
            return "the order was refunded in full"
        if order.financial_state == FinancialState.VOIDED:
            return "the order's payment was voided"
        return "the order is no longer paid"
