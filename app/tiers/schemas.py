from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TierChangeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: int
    from_: str | None = Field(alias="from", description="the tier before (null: none)")
    to: str | None
    reason: str = Field(
        description="qualified, period_end, refund, membership, membership_ended or program"
    )
    at: datetime
    program_version: int


class TierHistoryOut(BaseModel):
    customer_id: str
    changes: list[TierChangeOut]
    next_before_id: int | None = Field(description="pass as before_id for the next, older page")


class TierProgressOut(BaseModel):
    basis: str = Field(description="points_earned or amount_spent")
    window: str
    qualifying: int = Field(description="what counts now, in points or minor units")
    next_tier: str | None
    needed: int | None = Field(description="still to earn or spend for the next tier")
    window_ends_at: datetime | None = Field(description="the current window closes then")
    tier_until: datetime | None = Field(description="the tier is reviewed then")
