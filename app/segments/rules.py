"""A shop's own segments: the conditions a member meets to be in one, validated (a
discriminated union on ``type``, so a refusal names the condition's exact field) and evaluated
against what the segments know of the member (``rfm.MemberFacts``) at a refresh.

A member is in the segment when they meet *every* condition. Members who never paid an order
meet no condition on their orders (``last_order`` in either direction, ``orders``/``spend``
with ``at_least`` ≥ 1) but do meet ``orders``/``spend`` with only ``at_most``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.program.document import AwareTime, Key, Names
from app.segments.rfm import RFM_SEGMENTS, MemberFacts

RfmName = Literal["high_value", "loyal", "new", "at_risk", "hibernating"]
Days = Annotated[int, Field(ge=1, le=36_500)]
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]
Amount = Annotated[int, Field(ge=0, le=10**15)]
# Stored in UTC, whatever offset it was given with.
UtcTime = Annotated[AwareTime, AfterValidator(lambda v: v.astimezone(UTC))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TierIs(_Strict):
    """The member's tier now is one of ``in``."""

    type: Literal["tier"]
    in_: list[Key] = Field(alias="in", min_length=1, max_length=50)

    def met(self, m: MemberFacts, rfm: str | None, now: datetime) -> bool:
        return m.tier in self.in_


class OrdersCount(_Strict):
    """Paid orders, ever: at least ``at_least`` and/or at most ``at_most``."""

    type: Literal["orders"]
    at_least: Count | None = None
    at_most: Count | None = None

    @model_validator(mode="after")
    def _some(self) -> OrdersCount:
        if self.at_least is not None and self.at_most is not None:
            if self.at_least > self.at_most:
                raise ValueError("at_least must not be above at_most")
        elif self.at_least is None and self.at_most is None:
            raise ValueError("give at_least, at_most or both")
        return self

    def met(self, m: MemberFacts, rfm: str | None, now: datetime) -> bool:
        return (self.at_least is None or m.orders >= self.at_least) and (
            self.at_most is None or m.orders <= self.at_most
        )


class Spend(_Strict):
    """Merchandise of paid orders less refunds, ever, in minor units of the shop's currency."""

    type: Literal["spend"]
    at_least_minor: Amount | None = None
    at_most_minor: Amount | None = None

    @model_validator(mode="after")
    def _some(self) -> Spend:
        low, high = self.at_least_minor, self.at_most_minor
        if low is not None and high is not None:
            if low > high:
                raise ValueError("at_least_minor must not be above at_most_minor")
        elif low is None and high is None:
            raise ValueError("give at_least_minor, at_most_minor or both")
        return self

    def met(self, m: MemberFacts, rfm: str | None, now: datetime) -> bool:
        return (self.at_least_minor is None or m.spend_minor >= self.at_least_minor) and (
            self.at_most_minor is None or m.spend_minor <= self.at_most_minor
        )


class LastOrder(_Strict):
    """The member's last paid order: within the last ``within_days`` days, or longer ago
    than ``before_days`` days (exactly one)."""

    type: Literal["last_order"]
    within_days: Days | None = None
    before_days: Days | None = None

    @model_validator(mode="after")
    def _one(self) -> LastOrder:
        if (self.within_days is None) == (self.before_days is None):
            raise ValueError("give exactly one of within_days or before_days")
        return self

    def met(self, m: MemberFacts, rfm: str | None, now: datetime) -> bool:
        if m.last_paid_at is None:
            return False
        if self.within_days is not None:
            return m.last_paid_at >= now - timedelta(days=self.within_days)
        assert self.before_days is not None
        return m.last_paid_at < now - timedelta(days=self.before_days)


class Joined(_Strict):
    """When the member joined the club (first seen by Vafa): at or after ``after`` and/or
    before ``before``."""

    type: Literal["joined"]
    after: UtcTime | None = None
    before: UtcTime | None = None

    @model_validator(mode="after")
    def _some(self) -> Joined:
        if self.after is not None and self.before is not None:
            if not self.after < self.before:
                raise ValueError("after must be earlier than before")
        elif self.after is None and self.before is None:
            raise ValueError("give after, before or both")
        return self

    def met(self, m: MemberFacts, rfm: str | None, now: datetime) -> bool:
        if m.joined_at is None:
            return False
        return (self.after is None or m.joined_at >= self.after) and (
            self.before is None or m.joined_at < self.before
        )


def _distinct(values: list[RfmName]) -> list[RfmName]:
    if len(set(values)) != len(values):
        raise ValueError("each RFM segment once")
    return values


class RfmIs(_Strict):
    """The member's RFM segment (``app/segments/rfm.py``) is one of ``in``."""

    type: Literal["rfm"]
    in_: Annotated[list[RfmName], AfterValidator(_distinct)] = Field(
        alias="in", min_length=1, max_length=len(RFM_SEGMENTS)
    )

    def met(self, m: MemberFacts, rfm: str | None, now: datetime) -> bool:
        return rfm in self.in_


Condition = Annotated[
    TierIs | OrdersCount | Spend | LastOrder | Joined | RfmIs, Field(discriminator="type")
]


def _not_rfm(key: str) -> str:
    if key in RFM_SEGMENTS:
        raise ValueError(f"{key} is an RFM segment, which Vafa keeps: choose another key")
    return key


SegmentKey = Annotated[Key, AfterValidator(_not_rfm)]


class SegmentRule(_Strict):
    """A shop's own segment as ``PUT /api/v1/segments/{key}`` takes it."""

    names: Names
    conditions: list[Condition] = Field(min_length=1, max_length=20)

    def met(self, member: MemberFacts, rfm: str | None, now: datetime) -> bool:
        return all(c.met(member, rfm, now) for c in self.conditions)

    def conditions_json(self) -> list[dict[str, object]]:
        return [c.model_dump(mode="json", by_alias=True, exclude_none=True)
                for c in self.conditions]  # fmt: skip
