from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.limits import MAX_ADJUSTMENT_POINTS
from app.tiers.schemas import TierProgressOut


class Points(BaseModel):
    available: int = Field(description="spendable now")
    pending: int = Field(description="earned, waiting for the shop's hold period to end")
    held: int = Field(description="set aside for redemptions not settled yet")
    lifetime_earned: int


class MemberOut(BaseModel):
    customer_id: str
    points: Points
    tier: str | None
    tier_progress: TierProgressOut | None = Field(
        default=None, description="what the member still needs for the next tier, by when"
    )
    holdout: bool = Field(
        default=False,
        description="held out of the club (app/holdout): earns nothing, not shown the widget",
    )


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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "points": 50,
                    "reason": "goodwill after a late delivery",
                    "idempotency_key": "ticket-1042",
                }
            ]
        }
    )

    points: int = Field(
        ge=-MAX_ADJUSTMENT_POINTS,
        le=MAX_ADJUSTMENT_POINTS,
        description="positive to add points, negative to remove them; not 0, at most 10^12 "
        "either way",
    )
    # Text as the store owner types it: tabs and line breaks, no other control characters
    # (PostgreSQL cannot store NUL).
    reason: str = Field(
        min_length=1,
        max_length=1000,
        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$",
        description="why, as the member's ledger shows it",
    )
    idempotency_key: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="the same key again returns the first result instead of posting twice",
    )


class AdjustmentOut(BaseModel):
    transaction_id: int
    created: bool
    member: MemberOut
