"""The program document: one JSON object per shop saying how its club works — earning rules,
tiers, referrals, badges, a paid membership and the policies (hold, expiry, negative balance).

``PUT /api/v1/program`` validates a document with :class:`ProgramDocument` and stores it as a new
version (``app/program/versions.py``); an order is judged by the version in force when it was
paid. The names in ``../shared/DESIGN.md``'s contract are fixed; every other name is ours.

Amounts are integer minor units of the shop's currency; multipliers are decimals written as
numbers or strings (``1.25`` or ``"1.25"``), never floats inside Vafa.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from app.program.settings import ProgramSettings

Key = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Points = Annotated[int, Field(ge=1, le=10_000_000)]
Minor = Annotated[int, Field(ge=1, le=10**15)]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ValueError("a time needs its UTC offset, e.g. 2026-12-01T00:00:00Z")
    return value


AwareTime = Annotated[datetime, AfterValidator(_aware)]
Multiplier = Annotated[Decimal, Field(ge=0, le=100, max_digits=8, decimal_places=4)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(_Strict):
    """A label in the languages the widget and the admin speak."""

    fa: str | None = Field(default=None, min_length=1, max_length=64)
    en: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one(self) -> Names:
        if self.fa is None and self.en is None:
            raise ValueError("give a name in at least one language (fa or en)")
        return self


class Period(_Strict):
    """A cap's window: ``count`` per ``unit`` in the shop's time zone (calendar periods)."""

    unit: Literal["day", "week", "month", "year"]
    count: int = Field(ge=1, le=1_000_000)


class _Rule(_Strict):
    key: Key
    active: bool = True
    names: Names | None = None
    # The rule's time frame: it applies to what happens (an order paid, an event) within it.
    starts_at: AwareTime | None = None
    ends_at: AwareTime | None = None
    # Caps: times the rule may award a member, ever and per period.
    max_per_member: int | None = Field(default=None, ge=1, le=1_000_000)
    max_per_period: Period | None = None

    @model_validator(mode="after")
    def _frame(self) -> _Rule:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class _Grants(_Rule):
    """A rule that grants points or a reward (a redemption of it, free of points)."""

    points: Points | None = None
    reward_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _grant(self) -> _Grants:
        if (self.points is None) == (self.reward_id is None):
            raise ValueError("give exactly one of points or reward_id")
        return self


class LineMatch(_Strict):
    """Which order lines a multiplier or an exclusion applies to: a line matches when any
    listed entry names it.

    ``product_ids``, ``variant_ids`` and ``skus`` are compared with the line itself. The line's
    product's groups are asked of the store (``app/program/catalog.py``) and recorded on the
    order when it is judged, so that later changes to the catalog never change it:

    - ``collections`` (Shopify): a collection's handle (``summer-sale``) or numeric id
      (``841564295``), or a product type (``Shirts``) — the product is in that collection, or
      of that type;
    - ``categories`` (WooCommerce): a category's slug (``hats``) or numeric id (``15``) — the
      product (for a variation, its parent) is in that category.

    Handles, slugs and types compare case-insensitively, a slug percent-encoded or not. An
    entry names nothing on the other platform."""

    product_ids: list[str] = Field(default_factory=list, max_length=1000)
    variant_ids: list[str] = Field(default_factory=list, max_length=1000)
    skus: list[str] = Field(default_factory=list, max_length=1000)
    collections: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Shopify: collection handles or numeric ids, or product types; a line "
        "matches when its product is in one of them (as the store said when the order was "
        "judged).",
    )
    categories: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="WooCommerce: category slugs or numeric ids; a line matches when its "
        "product (a variation's parent) is in one of them (as the store said when the order "
        "was judged).",
    )

    @model_validator(mode="after")
    def _some(self) -> LineMatch:
        if not any(
            (self.product_ids, self.variant_ids, self.skus, self.collections, self.categories)
        ):
            raise ValueError("name at least one product, variant, sku, collection or category")
        return self


class LineMultiplier(_Strict):
    match: LineMatch
    multiplier: Multiplier


class PurchaseRule(_Rule):
    """``points`` for every whole ``per_minor`` minor units of the order's merchandise after
    discounts (shipping and tax excluded unless included), rounded per ``rounding`` once per
    order. ``per_minor`` null: ``per_units`` whole units of the order's currency, whatever its
    exponent."""

    type: Literal["purchase"]
    points: Points
    per_minor: Minor | None = None
    # With ``per_minor`` null: for every ``per_units`` whole units of the order's currency.
    per_units: int = Field(default=1, ge=1, le=10**9)
    rounding: Literal["down", "nearest", "up"] = "down"
    include_shipping: bool = False
    include_tax: bool = False
    min_order_minor: Minor | None = None
    multipliers: list[LineMultiplier] = Field(default_factory=list, max_length=100)
    exclusions: list[LineMatch] = Field(default_factory=list, max_length=100)


class FirstOrderRule(_Grants):
    """A bonus on the member's first paid order."""

    type: Literal["first_order"]


class NthOrderRule(_Grants):
    """Points or a reward on every ``every``-th paid order of the member."""

    type: Literal["nth_order"]
    every: int = Field(ge=2, le=1000)


class SpendGoalRule(_Grants):
    """Points or a reward once the member spends ``amount_minor`` within a calendar period."""

    type: Literal["spend_goal"]
    amount_minor: Minor
    period: Literal["month", "quarter", "year", "jalali_year", "lifetime"] = "month"


class SignupRule(_Grants):
    """Joining the club (a customer account created: Shopify customers/create, or the event)."""

    type: Literal["signup"]


class BirthdayRule(_Grants):
    """Once a year on the member's birthday, in the shop's time zone."""

    type: Literal["birthday"]


class EventRule(_Grants):
    """Any non-purchase action posted to ``POST /api/v1/members/{id}/events`` with this
    ``event`` type: review, survey, profile_completed, social_follow, social_share or the
    shop's own."""

    type: Literal["event"]
    event: Key

    @model_validator(mode="after")
    def _capped(self) -> EventRule:
        # Anyone can claim a follow or a share: an uncapped rule would print points.
        if self.event in SELF_REPORTED and not (self.max_per_member or self.max_per_period):
            raise ValueError(
                f"{self.event} is self-reported: give max_per_member or max_per_period"
            )
        return self


# Event types the shopper reports about themselves, which a rule must cap.
SELF_REPORTED = frozenset({"social_follow", "social_share"})


class CampaignRule(_Rule):
    """Within its dates: purchase points multiplied and/or a bonus per paid order, optionally
    only for members of some tiers or a segment."""

    type: Literal["campaign"]
    starts_at: AwareTime
    ends_at: AwareTime
    multiplier: Multiplier | None = None
    bonus: Points | None = None
    tiers: list[Key] | None = None
    segment: Key | None = None

    @model_validator(mode="after")
    def _effect(self) -> CampaignRule:
        if self.multiplier is None and self.bonus is None:
            raise ValueError("a campaign needs a multiplier, a bonus or both")
        return self


class ReferralRule(_Rule):
    """What a referral is worth: to the advocate and to the friend, when the friend's first
    paid order is past the hold period."""

    type: Literal["referral"]
    advocate_points: Points | None = None
    advocate_reward_id: int | None = Field(default=None, ge=1)
    friend_points: Points | None = None
    friend_reward_id: int | None = Field(default=None, ge=1)
    min_order_minor: Minor | None = None
    # Fraud checks' limits: referrals one advocate may make per day before review.
    max_per_advocate_per_day: int = Field(default=5, ge=1, le=10_000)

    @model_validator(mode="after")
    def _worth(self) -> ReferralRule:
        if not any(
            (self.advocate_points, self.advocate_reward_id, self.friend_points,
             self.friend_reward_id)
        ):  # fmt: skip
            raise ValueError("a referral must reward the advocate, the friend or both")
        return self


class BadgeRule(_Rule):
    """A badge or challenge over the stream of orders and events: ``count`` orders or events of
    ``event`` type, ``amount_minor`` spent, or ``count`` distinct days with activity, within
    ``within_days`` (None: ever). Points or a reward on completion are optional."""

    type: Literal["badge"]
    names: Names
    metric: Literal["orders", "spend", "events", "distinct_days"]
    event: Key | None = None
    count: int | None = Field(default=None, ge=1, le=1_000_000)
    amount_minor: Minor | None = None
    within_days: int | None = Field(default=None, ge=1, le=3650)
    points: Points | None = None
    reward_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _goal(self) -> BadgeRule:
        if self.points is not None and self.reward_id is not None:
            raise ValueError("give at most one of points or reward_id")
        if self.metric == "spend" and self.amount_minor is None:
            raise ValueError("a spend badge needs amount_minor")
        if self.metric != "spend" and self.count is None:
            raise ValueError(f"a {self.metric} badge needs count")
        if self.metric == "events" and self.event is None:
            raise ValueError("an events badge needs the event type")
        return self


Rule = Annotated[
    PurchaseRule | FirstOrderRule | NthOrderRule | SpendGoalRule | SignupRule | BirthdayRule
    | EventRule | CampaignRule | ReferralRule | BadgeRule,
    Field(discriminator="type"),
]  # fmt: skip


class TierLevel(_Strict):
    key: Key
    threshold: int = Field(ge=0, le=10**15)  # points earned or minor units spent
    names: Names
    multiplier: Multiplier | None = None  # applies to purchase points
    # Benefits: rewards only members of this tier or a higher one may redeem.
    reward_ids: list[int] = Field(default_factory=list, max_length=100)


class Tiers(_Strict):
    basis: Literal["points_earned", "amount_spent"] = "points_earned"
    window: Literal["lifetime", "rolling_12_months", "calendar_year", "jalali_year"] = "lifetime"
    # Days after a period ends before a member who no longer qualifies moves down.
    grace_days: int = Field(default=0, ge=0, le=365)
    # A refund that drops qualification below a threshold: move down at once, or keep the tier
    # until the period ends.
    on_refund: Literal["downgrade_now", "keep_until_period_end"] = "keep_until_period_end"
    levels: list[TierLevel] = Field(min_length=1, max_length=20)

    @field_validator("levels")
    @classmethod
    def _ordered(cls, levels: list[TierLevel]) -> list[TierLevel]:
        if levels[0].threshold != 0:
            raise ValueError("the first level's threshold must be 0 (every member has a tier)")
        keys = [level.key for level in levels]
        if len(set(keys)) != len(keys):
            raise ValueError("tier keys must be unique")
        for lower, higher in zip(levels, levels[1:], strict=False):
            if higher.threshold <= lower.threshold:
                raise ValueError("thresholds must increase from one level to the next")
        return levels


class Membership(_Strict):
    """A paid VIP membership: buying one of these products puts the member in ``tier`` for
    ``term_days`` (renewal extends); the purchase itself earns no points."""

    product_ids: list[str] = Field(default_factory=list, max_length=100)
    skus: list[str] = Field(default_factory=list, max_length=100)
    tier: Key
    term_days: int = Field(ge=1, le=3660)

    @model_validator(mode="after")
    def _some(self) -> Membership:
        if not self.product_ids and not self.skus:
            raise ValueError("name the membership product by product_ids or skus")
        return self


class Leaderboard(_Strict):
    enabled: bool = False
    # How members are shown: initials and the last digits of their customer id, never a name.
    size: int = Field(default=10, ge=1, le=100)
    window: Literal["lifetime", "month", "year"] = "month"


class ProgramDocument(_Strict):
    """A shop's whole program. Policy fields are those of :class:`ProgramSettings` (what the
    ledger and the rewards read today) and keep their names and defaults."""

    rules: list[Rule] = Field(default_factory=list, max_length=200)
    tiers: Tiers | None = None
    membership: Membership | None = None
    leaderboard: Leaderboard = Field(default_factory=Leaderboard)
    # The shop's time zone (IANA name): birthdays, caps' periods and tier windows follow it.
    timezone: str = "UTC"
    locale: Literal["fa", "en"] = "en"
    # What one point is worth in minor units (liability in money, simulation's cost).
    point_value_minor: Decimal | None = Field(default=None, ge=0, max_digits=20, decimal_places=6)
    # Policies, as ProgramSettings has them.
    hold_days: int = Field(default=0, ge=0, le=365)
    expiry_days: int | None = Field(default=None, ge=1, le=3650)
    allow_negative_balance: bool = True
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    currency_exponents: dict[str, int] = Field(default_factory=dict)
    refund_expired_codes: bool = True
    refund_redeemed_points_on_refund: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name, e.g. Asia/Tehran)"
            ) from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ProgramDocument:
        keys = [rule.key for rule in self.rules]
        if dupes := sorted({k for k in keys if keys.count(k) > 1}):
            raise ValueError(f"rule keys must be unique: {', '.join(dupes)}")
        levels = {level.key for level in self.tiers.levels} if self.tiers else set()
        if self.membership and self.membership.tier not in levels:
            raise ValueError(f"membership.tier {self.membership.tier!r} is not a tier level")
        for rule in self.rules:
            unknown = (
                sorted(set(rule.tiers) - levels)
                if isinstance(rule, CampaignRule) and rule.tiers
                else []
            )
            if unknown:
                raise ValueError(f"campaign {rule.key!r} names unknown tiers: {unknown}")
        return self

    def policies(self) -> ProgramSettings:
        """The policy fields as the settings model the ledger, rewards and sync read."""
        return ProgramSettings.model_validate(
            {name: getattr(self, name) for name in _POLICY_FIELDS}
        )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def rule(self, key: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.key == key), None)


_POLICY_FIELDS = (
    "hold_days", "expiry_days", "allow_negative_balance", "currency", "currency_exponents",
    "refund_expired_codes", "refund_redeemed_points_on_refund",
)  # fmt: skip

POLICY_FIELDS = _POLICY_FIELDS  # the fields a document shares with ProgramSettings

# The key of the rule that carries the program's historical purchase points: it posts under
# the keys Vafa wrote before rules had segments (``order:<id>:earn``), so ledgers written then
# keep their meaning.
DEFAULT_PURCHASE_KEY = "purchase"


def from_settings(settings: ProgramSettings) -> ProgramDocument:
    """The document of a shop that never set a program: its settings' policies and the default
    rule (``points_per_unit`` per whole unit of the currency), as DESIGN.md describes it."""
    data: dict[str, Any] = {name: getattr(settings, name) for name in _POLICY_FIELDS}
    data["rules"] = []
    if settings.points_per_unit > 0:
        # Kept exact for fractions: 0.1 point per unit is 1 point per 10 units.
        points, units = settings.points_per_unit.as_integer_ratio()
        data["rules"].append(
            {"key": DEFAULT_PURCHASE_KEY, "type": "purchase", "points": points,
             "per_units": units}
        )  # fmt: skip
    return ProgramDocument.model_validate(data)


DEFAULT_DOCUMENT = ProgramDocument.model_validate(
    {"rules": [{"key": DEFAULT_PURCHASE_KEY, "type": "purchase", "points": 1}]}
)


def unknown_segments(document: ProgramDocument, known: set[str]) -> list[dict[str, Any]]:
    """The campaigns that name a segment the shop does not have (``known``: its keys, from
    ``app.segments.service.keys``), as validation errors at their field (``loc`` as pydantic
    gives it for the document's own fields)."""
    return [
        {
            "type": "value_error",
            "loc": ("rules", i, "campaign", "segment"),
            "msg": f"no segment {rule.segment!r} in this shop (the RFM segments and those "
            "set with PUT /api/v1/segments/{key})",
            "input": rule.segment,
        }
        for i, rule in enumerate(document.rules)
        if isinstance(rule, CampaignRule) and rule.segment is not None
        and rule.segment not in known
    ]  # fmt: skip
