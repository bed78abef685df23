"""The program engine: what an order earns under the program version it was judged by.

Two steps, so that a later program edit or a refund never changes how an order was judged:

- :meth:`Program.decide`, once, when the order is first paid (``app/program/judging.py``
  stores the answer on the order): which rules' one-time conditions it met — the rule's time
  frame by paid time, its caps, the member's first or n-th paid order, a spend goal crossed, a
  campaign's tiers;
- :meth:`Program.awards`, at every reconcile, pure: what each of those rules gives the order as
  it stands now (its merchandise, its lines). ``earning.should_carry`` turns awards into what
  the order carries, and refunds take their share back in proportion.

Purchase points, once per order: with ``per_minor``, ``points`` for every whole ``per_minor``
of the amount (the number of blocks rounded as the rule says: 50 per 500,000 Toman on 750,000
is 50, rounded down); with ``per_units``, ``points × units / per_units`` rounded — the exact
fraction the points-per-unit setting always gave (2.5 points per unit on 181.60 is 454), so
ledgers written before rules keep their meaning.

A campaign's or a tier's multiplier posts, under its own segment, what it adds to the order's
purchase points (``⌊total × m⌋ − total``; a multiplier below 1 adds nothing).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from app.connectors.base import OrderLine, RefundLine
from app.program import lines as order_lines
from app.program.catalog import group_key
from app.program.document import (
    DEFAULT_PURCHASE_KEY,
    CampaignRule,
    FirstOrderRule,
    LineMatch,
    NthOrderRule,
    ProgramDocument,
    PurchaseRule,
    SpendGoalRule,
)
from app.program.periods import in_frame, period_of
from app.program.rules import DEFAULT_RULE, OrderFacts, format_money
from app.program.versions import ProgramHistory, Version
from app.tiers.membership import is_membership_line

_ROUNDING = {"down": ROUND_FLOOR, "nearest": ROUND_HALF_UP, "up": ROUND_CEILING}
# The rule types the order engine runs; the others are events' (app/engage), referrals' and
# badges' own.
OrderRule = PurchaseRule | FirstOrderRule | NthOrderRule | SpendGoalRule | CampaignRule
_ORDER_TYPES = (PurchaseRule, FirstOrderRule, NthOrderRule, SpendGoalRule, CampaignRule)
_GRANTS = (FirstOrderRule, NthOrderRule, SpendGoalRule)


_NONE: frozenset[str] = frozenset()
# Weights in ten-thousandths: a line multiplier has at most 4 decimal places.
_WEIGHT_SCALE = 10_000


@dataclass(frozen=True, slots=True)
class Weighting:
    """How a purchase award counted the order, line by line (its multipliers and exclusions;
    a paid membership's lines count 0), in ten-thousandths of minor units, so that a refund
    takes back what its lines counted: refunding a line that counted twice takes back twice
    its share. A refund that does not name its lines (WooCommerce's order gives totals) takes
    back its share of the money, as without weights."""

    counted: int  # Σ line merchandise × weight × 10^4
    weights: dict[str, int]  # line id → weight × 10^4
    merchandise_minor: int  # the lines' merchandise, a paid membership's left out

    def share(self, refunded_minor: int, lines: Sequence[RefundLine]) -> int:
        """What a refund of ``refunded_minor`` (its ``lines``) takes of :attr:`counted`."""
        if lines and all(line.line_id in self.weights for line in lines):
            return sum(line.merchandise_minor * self.weights[line.line_id or ""] for line in lines)
        if self.merchandise_minor <= 0:
            return 0
        return refunded_minor * self.counted // self.merchandise_minor


@dataclass(frozen=True, slots=True)
class Award:
    """What one rule gives an order: points (``reward_id`` None) or a reward."""

    rule: str  # recorded on the rule's transactions (at most 64 characters)
    segment: str | None  # the rule's idempotency-key segment (None: the purchase rule)
    points: int
    why: str  # the reason after "N points: ", naming the rule and the version
    reward_id: int | None = None
    grant_key: str | None = None  # a reward's grant key, one per rule and order
    weighting: Weighting | None = None  # a purchase award with line multipliers or exclusions


class JudgedOrder(OrderFacts, Protocol):
    """The order facts the awards read (``reconcile.OrderState`` is one)."""

    @property
    def name(self) -> str | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def shipping_minor(self) -> int: ...
    @property
    def tax_minor(self) -> int: ...
    @property
    def lines(self) -> list[dict[str, Any]] | None: ...
    @property
    def tier(self) -> str | None: ...
    @property
    def member_seq(self) -> int | None: ...
    @property
    def program_version(self) -> int | None: ...
    @property
    def program_rules(self) -> list[str] | None: ...
    @property
    def product_groups(self) -> dict[str, list[str]] | None: ...


@dataclass(frozen=True, slots=True)
class Prior:
    """One of the member's orders judged before, as caps and spend goals count it."""

    at: datetime  # when it was paid
    rules: tuple[str, ...]  # the rules it met
    merchandise_minor: int
    earning: bool  # it still earns (paid, not cancelled nor deleted)


def rule_name(rule: OrderRule) -> str:
    """The name on the rule's transactions: the purchase rule keeps the one Vafa always wrote."""
    return DEFAULT_RULE if rule.key == DEFAULT_PURCHASE_KEY else f"{rule.type}:{rule.key}"


def rule_segment(rule: OrderRule) -> str | None:
    return None if rule.key == DEFAULT_PURCHASE_KEY else rule.key


def earned_at(order: OrderFacts) -> datetime | None:
    """When the order counts as paid (``paid_at``, else its snapshot's time)."""
    return order.paid_at or order.source_updated_at


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def wanted_groups(match: LineMatch) -> frozenset[str]:
    """The product groups a match names, as ``catalog.group_key`` stores them: a collection
    entry is a Shopify collection's handle or numeric id, or a product type; a category entry
    a WooCommerce category's slug or id."""
    return frozenset(
        [group_key(kind, c) for c in match.collections for kind in ("collection", "type")]
        + [group_key("category", c) for c in match.categories]
    )


def _matches(
    match: LineMatch, line: OrderLine, groups: frozenset[str], wanted: frozenset[str]
) -> bool:
    """The line is one the match names: by product, variant or SKU, or by one of its product's
    ``groups`` (those recorded on the order) among the match's ``wanted`` ones."""
    return (
        (line.product_id is not None and line.product_id in match.product_ids)
        or (line.variant_id is not None and line.variant_id in match.variant_ids)
        or (line.sku is not None and line.sku in match.skus)
        or not wanted.isdisjoint(groups)
    )


class Program:
    """One version of a shop's program, ready to judge orders."""

    def __init__(self, version: Version) -> None:
        self.version = version
        self.document: ProgramDocument = version.document
        self.rules: tuple[OrderRule, ...] = tuple(
            rule for rule in self.document.rules if isinstance(rule, _ORDER_TYPES) and rule.active
        )
        self.purchase_keys = tuple(r.key for r in self.rules if isinstance(r, PurchaseRule))
        self.needs_history = any(
            r.max_per_member or r.max_per_period or isinstance(r, SpendGoalRule) for r in self.rules
        )
        # Each line match's groups, worked out once (by identity: the matches are the
        # document's own objects).
        self._wanted: dict[int, frozenset[str]] = {
            id(match): wanted_groups(match)
            for rule in self.rules
            if isinstance(rule, PurchaseRule)
            for match in (*(m.match for m in rule.multipliers), *rule.exclusions)
        }
        # Its lines' products' groups are needed to judge an order (app/program/catalog.py).
        self.uses_groups = any(self._wanted.values())
        # Some line counts other than its money: an order judged by it records so
        # (``product_groups`` set, if only to {}), and its refunds take back what their lines
        # counted; an order judged before Vafa recorded that keeps the money share it had.
        self.weighs_lines = bool(self._wanted)

    def _suffix(self, rule: OrderRule) -> str:
        return f"(rule {rule.key}, program v{self.version.version})"

    # -- deciding, once ------------------------------------------------------------------

    def decide(
        self,
        order: OrderFacts,
        at: datetime,
        seq: int,
        tier: str | None,
        prior: Sequence[Prior],
        segments: Collection[str] = (),
    ) -> list[str]:
        """The keys of the rules whose one-time conditions the order meets, paid at ``at`` as
        the member's ``seq``-th paid order, the member in ``tier`` and ``segments``, after
        ``prior``."""
        return [
            rule.key
            for rule in self.rules
            if self._meets(rule, order, at, seq, tier, prior, segments)
        ]

    def _meets(
        self,
        rule: OrderRule,
        order: OrderFacts,
        at: datetime,
        seq: int,
        tier: str | None,
        prior: Sequence[Prior],
        segments: Collection[str] = (),
    ) -> bool:
        if not in_frame(at, rule.starts_at, rule.ends_at):
            return False
        if isinstance(rule, FirstOrderRule) and seq != 1:
            return False
        if isinstance(rule, NthOrderRule) and seq % rule.every:
            return False
        if isinstance(rule, CampaignRule):
            if rule.tiers is not None and tier not in rule.tiers:
                return False
            if rule.segment is not None and rule.segment not in segments:
                return False  # the member was not in the segment when the order was paid
        zone = self.document.timezone
        if isinstance(rule, SpendGoalRule):
            period = period_of(rule.period, at, zone)
            same = [p for p in prior if period_of(rule.period, p.at, zone) == period]
            if any(rule.key in p.rules for p in same):
                return False  # reached already in this period
            before = sum(p.merchandise_minor for p in same if p.earning)
            if not before < rule.amount_minor <= before + order.merchandise_minor:
                return False
        awarded = [p for p in prior if rule.key in p.rules]
        if rule.max_per_member is not None and len(awarded) >= rule.max_per_member:
            return False
        if (cap := rule.max_per_period) is not None:
            period = period_of(cap.unit, at, zone)
            if sum(period_of(cap.unit, p.at, zone) == period for p in awarded) >= cap.count:
                return False
        return True

    # -- awarding, every time ------------------------------------------------------------

    def awards(self, order: JudgedOrder, decided: Collection[str] | None = None) -> list[Award]:
        """What each rule the order met gives it now. ``decided`` defaults to the order's own
        record; an order never judged (it never earned under the engine) is read as meeting
        the purchase rules, so that what it earned before is what it gives back."""
        if decided is None:
            decided = order.program_rules if order.program_rules is not None else self.purchase_keys
        label = order.name or f"#{order.order_id}"
        met = [rule for rule in self.rules if rule.key in decided]
        out = [self._purchase(rule, order, label) for rule in met if isinstance(rule, PurchaseRule)]
        total = sum(a.points for a in out)
        # What a tier or campaign adds to the purchase points is taken back as they are: by
        # the purchase rule's line weights when there is one rule to follow.
        weighting = out[0].weighting if len(out) == 1 else None
        out.extend(replace(a, weighting=weighting) for a in self._tier(order, total, label))
        for rule in met:
            if isinstance(rule, CampaignRule):
                out.append(replace(self._campaign(rule, total, label), weighting=weighting))
            elif isinstance(rule, _GRANTS):
                out.append(self._grant(rule, order, label))
        return out

    def _purchase(self, rule: PurchaseRule, order: JudgedOrder, label: str) -> Award:
        base = order.merchandise_minor
        extras = (order.shipping_minor if rule.include_shipping else 0) + (
            order.tax_minor if rule.include_tax else 0
        )
        spent = format_money(base + extras, order.exponent, order.currency)
        why = f"{spent} spent on order {label}"
        if rule.include_shipping or rule.include_tax:
            included = [w for w, on in (("shipping", rule.include_shipping),
                                         ("tax", rule.include_tax)) if on]  # fmt: skip
            why += f" ({' and '.join(included)} included)"
        name, segment = rule_name(rule), rule_segment(rule)
        if rule.min_order_minor is not None and base < rule.min_order_minor:
            minimum = format_money(rule.min_order_minor, order.exponent, order.currency)
            why += f", below the {minimum} minimum"
            return Award(name, segment, 0, f"{why} {self._suffix(rule)}")
        counted, weighting = self._weighted(rule, order)
        amount = Decimal(counted + extras)
        if amount != base + extras:
            why += f" ({format_money(int(amount), order.exponent, order.currency)} counted"
            if rule.multipliers or rule.exclusions:
                why += " after the rule's product multipliers and exclusions)"
            else:  # only a paid membership's lines, left out
                why += ": the paid membership earns no points)"
        rounding = _ROUNDING[rule.rounding]
        if rule.per_minor is not None:
            blocks = (amount / rule.per_minor).to_integral_value(rounding=rounding)
            points = int(blocks) * rule.points
        else:
            raw = amount.scaleb(-order.exponent) * rule.points / rule.per_units
            points = int(raw.to_integral_value(rounding=rounding))
        # Refunds take back what their lines counted only where lines were weighed, so an
        # order earning on shipping or tax keeps the plain share.
        if extras:
            weighting = None
        return Award(
            name, segment, max(points, 0), f"{why} {self._suffix(rule)}", weighting=weighting
        )

    def _weighted(
        self, rule: PurchaseRule, order: JudgedOrder
    ) -> tuple[Decimal | int, Weighting | None]:
        """The order's merchandise with the rule's line multipliers and exclusions applied
        (each line: excluded, else the first multiplier that matches it), and how each line was
        weighed (None: no line multiplier nor exclusion). A paid membership's product earns no
        purchase points: its lines are always excluded."""
        exclusions = rule.exclusions
        if not (rule.multipliers or exclusions or self.document.membership):
            return order.merchandise_minor, None
        parsed = order_lines.order_lines(order.lines)
        if not parsed:
            return order.merchandise_minor, None  # stored before lines were kept
        recorded = order.product_groups or {}
        wanted = self._wanted
        total: Decimal = Decimal(0)
        weights: dict[str, int] = {}
        earning = 0
        for line in parsed:
            groups = frozenset(recorded.get(line.product_id or "", ())) if recorded else _NONE
            weight = Decimal(0)
            member = is_membership_line(self.document, line)
            if not member and not any(
                _matches(ex, line, groups, wanted[id(ex)]) for ex in exclusions
            ):
                weight = next(
                    (
                        m.multiplier
                        for m in rule.multipliers
                        if _matches(m.match, line, groups, wanted[id(m.match)])
                    ),
                    Decimal(1),
                )
            total += line.merchandise_minor * weight
            if not member:
                earning += line.merchandise_minor  # what a refund of unnamed lines is a share of
            if line.line_id is not None:
                weights[line.line_id] = int(weight * _WEIGHT_SCALE)
        counted = total if total != total.to_integral_value() else int(total)
        weighed = rule.multipliers or exclusions
        judged_with_weights = order.product_groups is not None  # see Program.weighs_lines
        if not weighed or total <= 0 or len(weights) != len(parsed) or not judged_with_weights:
            return counted, None
        scaled = int(total * _WEIGHT_SCALE)
        return counted, Weighting(scaled, weights, earning)

    def _tier(self, order: JudgedOrder, total: int, label: str) -> list[Award]:
        tiers = self.document.tiers
        if tiers is None or order.tier is None or total <= 0:
            return []
        level = next((lv for lv in tiers.levels if lv.key == order.tier), None)
        if level is None or level.multiplier is None:
            return []
        extra = max(int((total * level.multiplier).to_integral_value(ROUND_FLOOR)) - total, 0)
        names = level.names.en or level.names.fa or level.key
        why = (
            f"{names} tier: {total} purchase points ×{level.multiplier.normalize()} on order "
            f"{label} (tier {level.key}, program v{self.version.version})"
        )
        return [Award(f"tier:{level.key}", f"tier.{level.key}", extra, why)]

    def _campaign(self, rule: CampaignRule, total: int, label: str) -> Award:
        extra = 0
        parts = []
        if rule.multiplier is not None:
            extra = max(int((total * rule.multiplier).to_integral_value(ROUND_FLOOR)) - total, 0)
            parts.append(f"{total} purchase points ×{rule.multiplier.normalize()}")
        if rule.bonus is not None:
            extra += rule.bonus
            parts.append(f"a {rule.bonus}-point bonus")
        title = rule.names.en or rule.names.fa if rule.names else None
        name = f"campaign {title or rule.key}"
        whom = "" if rule.segment is None else f" (segment {rule.segment})"
        why = f"{name}: {' and '.join(parts)} on order {label}{whom} {self._suffix(rule)}"
        return Award(rule_name(rule), rule_segment(rule), extra, why)

    def _grant(
        self, rule: FirstOrderRule | NthOrderRule | SpendGoalRule, order: JudgedOrder, label: str
    ) -> Award:
        if isinstance(rule, FirstOrderRule):
            why = f"first paid order {label}"
        elif isinstance(rule, NthOrderRule):
            seq = order.member_seq or 0
            why = (
                f"order {label} is the member's {ordinal(seq)} paid order "
                f"(every {ordinal(rule.every)} earns)"
            )
        else:
            goal = format_money(rule.amount_minor, order.exponent, order.currency)
            within = "" if rule.period == "lifetime" else f" within the {rule.period}"
            why = f"{goal} spent{within}, reached with order {label}"
        why = f"{why} {self._suffix(rule)}"
        if rule.reward_id is not None:
            return Award(rule_name(rule), rule_segment(rule), 0, why, rule.reward_id,
                         f"{rule.key}:order:{order.order_id}")  # fmt: skip
        return Award(rule_name(rule), rule_segment(rule), rule.points or 0, why)


class Programs:
    """A shop's program history, each version compiled once when first needed."""

    def __init__(self, history: ProgramHistory) -> None:
        self.history = history
        self._compiled: dict[int, Program] = {}

    def _of(self, version: Version) -> Program:
        if (program := self._compiled.get(version.version)) is None:
            program = self._compiled[version.version] = Program(version)
        return program

    def at(self, when: datetime | None) -> Program:
        return self._of(self.history.at(when))

    def version(self, number: int) -> Program:
        found = next((v for v in self.history.versions if v.version == number), None)
        return self._of(found) if found is not None else self.at(None)

    def for_order(self, order: JudgedOrder) -> Program:
        """The version the order was judged by, or (never judged) the one in force when it
        was paid."""
        if order.program_version is not None:
            return self.version(order.program_version)
        return self.at(earned_at(order))

    def awards(self, order: JudgedOrder) -> list[Award]:
        return self.for_order(order).awards(order)
