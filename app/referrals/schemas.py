from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["pending", "review", "rewarded", "rejected", "void"]
_TEXT = r"^[^\x00-\x1f\x7f]+$"  # one line, no control characters


class ReferralLinkOut(BaseModel):
    customer_id: str
    code: str = Field(description="the member's referral code; also valid as the attribute "
                      "vafa_ref or, where the shop created it, as a discount code")  # fmt: skip
    link: str = Field(description="the shop's storefront with ?vafa_ref=CODE")


class ReferralOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    advocate_id: str
    friend_id: str
    order_id: str
    code: str
    via: Literal["attribute", "discount_code"]
    rule: str
    program_version: int
    status: Status
    flags: list[str] = Field(description="what the fraud checks found")
    note: str | None = Field(description="why it was rejected or voided")
    approved: bool
    paid_at: datetime
    release_at: datetime = Field(description="when the order is past the hold period")
    rewarded_at: datetime | None
    failure: str | None = Field(description="a reward that could not be granted")
    created_at: datetime
    updated_at: datetime


class ReferralsOut(BaseModel):
    referrals: list[ReferralOut]
    next_before_id: int | None


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, pattern=_TEXT)
