from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.program.document import Names

# The RFM segments' labels, as the admin and the API show them.
RFM_NAMES: dict[str, dict[str, str]] = {
    "high_value": {"fa": "ارزشمند", "en": "High value"},
    "loyal": {"fa": "وفادار", "en": "Loyal"},
    "new": {"fa": "تازه‌وارد", "en": "New"},
    "at_risk": {"fa": "در آستانهٔ ریزش", "en": "At risk"},
    "hibernating": {"fa": "خفته", "en": "Hibernating"},
}


class SegmentOut(BaseModel):
    key: str
    kind: Literal["rfm", "custom"] = Field(
        description="rfm: one of Vafa's RFM segments; custom: the shop's own, by rule"
    )
    names: Names
    conditions: list[dict[str, Any]] | None = Field(
        description="custom: every condition a member meets to be in it; rfm: null"
    )
    members: int = Field(description="members in it as of the last refresh")
    refreshed_at: datetime | None = Field(description="the shop's last refresh (null: never)")
    updated_at: datetime | None = Field(description="custom: when its definition last changed")


class SegmentsOut(BaseModel):
    segments: list[SegmentOut]


class SegmentMemberOut(BaseModel):
    customer_id: str
    since: datetime = Field(description="the refresh that put the member in it")


class SegmentMembersOut(BaseModel):
    key: str
    members: list[SegmentMemberOut]
    next_after: str | None = Field(description="pass as after for the next page")


class RfmOut(BaseModel):
    recency_days: int = Field(description="whole days since the last paid order")
    frequency: int = Field(description="paid orders within the window (365 days)")
    monetary_minor: int = Field(description="their merchandise less refunds, minor units")
    r: int = Field(ge=1, le=5)
    f: int = Field(ge=1, le=5)
    m: int = Field(ge=1, le=5)
    segment: str | None = Field(description="the RFM segment (null: none fits)")
    computed_at: datetime


class MemberSegmentOut(BaseModel):
    key: str
    since: datetime


class MemberSegmentsOut(BaseModel):
    customer_id: str
    segments: list[MemberSegmentOut]
    rfm: RfmOut | None = Field(description="null: no paid order as of the last refresh")
