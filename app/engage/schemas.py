from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, field_validator

from app.program.document import Key


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"type": "review", "idempotency_key": "review-8812"}]},
    )

    # The program's key syntax: an event rule names its type with one.
    type: Key = Field(
        description="review, survey, profile_completed, social_follow, social_share, signup, "
        "or the shop's own type",
    )
    idempotency_key: str = Field(
        min_length=1,
        max_length=150,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="the same key again returns the first result instead of recording twice",
    )
    occurred_at: AwareDatetime | None = Field(
        default=None, description="when it happened (default: now); not in the future"
    )


class OutcomeOut(BaseModel):
    rule: str
    status: Literal[
        "awarded", "capped", "outside_frame", "inactive", "reward_unavailable",
        "holdout",  # the customer is held out of the club (app/holdout): nothing awarded
    ]  # fmt: skip
    message: str
    points: int
    reward_id: int | None
    redemption_id: int | None


class EventOut(BaseModel):
    id: int
    customer_id: str
    type: str
    idempotency_key: str
    occurred_at: datetime
    program_version: int
    points: int = Field(description="points this event earned, all rules together")
    message: str
    rules: list[OutcomeOut] = Field(description="what each rule that matches the type did")
    badges: list[OutcomeOut] = Field(description="badges this event completed")
    created: bool = Field(description="false: the idempotency key was used before")


class ProfileIn(_In):
    birthday: str | None = Field(
        pattern=r"^(\d{4}-)?\d{2}-\d{2}$",
        description="MM-DD, or a date YYYY-MM-DD (only month and day are kept); null clears it",
        examples=["05-17", "1990-05-17"],
    )

    @field_validator("birthday")
    @classmethod
    def _real_day(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) == 10:
            date.fromisoformat(value)  # a real date: ValueError becomes a 422
            return value[5:]
        date(2000, int(value[:2]), int(value[3:]))  # a leap year: 02-29 is a birthday
        return value


class ProfileOut(BaseModel):
    customer_id: str
    birthday: str | None = Field(description="MM-DD")


class OptIn(_In):
    opt_in: StrictBool


class OptInOut(BaseModel):
    customer_id: str
    opt_in: bool


class BadgeOut(BaseModel):
    key: str
    names: dict[str, Any]
    metric: str
    event: str | None
    within_days: int | None
    current: int = Field(description="what counts now (within the window); the target once done")
    target: int
    completed_at: datetime | None
    points: int | None
    reward_id: int | None
    active: bool


class BadgesOut(BaseModel):
    customer_id: str
    badges: list[BadgeOut]


class PlaceOut(BaseModel):
    rank: int
    display_name: str = Field(description="initials and the last two digits of the customer id")
    points: int


class LeaderboardOut(BaseModel):
    window: str
    since: datetime | None
    entries: list[PlaceOut]
