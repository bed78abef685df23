from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Points(BaseModel):
    available: int = Field(description="spendable now")
    pending: int = Field(description="earned, waiting for the shop's hold period to end")
    held: int = Field(description="set aside for redemptions not settled yet")
    lifetime_earned: int


class MemberOut(BaseModel):
    customer_id: str
    points: Points
    tier: str | None


class Source(BaseModel):
    type: str
    id: str | None
    order_id: str | None


class EntryOut(BaseModel):
    id: int
    kind: str
    points: int
    reason: str
    source: Source
    rule: str | None
    uncollected: int = Field(description="points a clawback could not take back (no debt allowed)")
    created_at: datetime


class EntriesOut(BaseModel):
    customer_id: str
    entries: list[EntryOut]
    next_before_id: int | None = Field(description="pass as before_id for the next, older page")


class AdjustmentIn(BaseModel):
    points: int = Field(description="positive to add points, negative to remove them")
    reason: str = Field(min_length=1, max_length=1000)
    idempotency_key: str = Field(min_length=1, max_length=200)


class AdjustmentOut(BaseModel):
    transaction_id: int
    created: bool
    member: MemberOut
