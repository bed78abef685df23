from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.limits import MAX_ADJUSTMENT_POINTS, MAX_AMOUNT_MINOR, MAX_ID_LENGTH

Kind = Literal["amount_off", "percent_off", "free_shipping", "free_product", "points_to_money"]
Status = Literal["pending", "issued", "used", "failed", "expired", "cancelled"]
# Points one redemption may cost, as many as one adjustment may move.
MAX_POINTS = MAX_ADJUSTMENT_POINTS
_TEXT = r"^[^\x00-\x1f\x7f]+$"  # one line, no control characters (PostgreSQL cannot hold NUL)


class RewardIn(BaseModel):
    """A reward as the store owner defines it; every rule that ties fields together is checked
    in :meth:`_consistent`, also for a PATCH (applied to the stored reward, then checked)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "5 € off",
                    "kind": "amount_off",
                    "points_cost": 500,
                    "value": 500,
                    "code_valid_days": 30,
                    "active": True,
                }  # fmt: skip
            ]
        },
    )

    name: str = Field(min_length=1, max_length=255, pattern=_TEXT)
    kind: Kind
    points_cost: int = Field(ge=1, le=MAX_POINTS, description="points one redemption costs "
                             "(for points_to_money: one step)")  # fmt: skip
    value: int | None = Field(
        default=None,
        ge=1,
        le=MAX_AMOUNT_MINOR,
        description="minor units off (amount_off; points_to_money: per step), or 1–100 "
        "(percent_off)",
    )
    min_order_minor: int | None = Field(default=None, ge=1, le=MAX_AMOUNT_MINOR)
    product_id: str | None = Field(
        default=None, min_length=1, max_length=MAX_ID_LENGTH, pattern=_TEXT
    )
    code_valid_days: int | None = Field(
        default=None, ge=1, le=3650, description="days the code can be used (null: no end)"
    )
    min_points: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    max_points: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    active: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if problem := _problem(self):
            raise ValueError(problem)
        return self


def _problem(r: RewardIn) -> str | None:
    """What is wrong with the reward as a whole, if anything (fields name themselves)."""
    needs_value = ("amount_off", "percent_off", "points_to_money")
    if r.kind in needs_value and r.value is None:
        return f"value: a {r.kind} reward needs a value"
    if r.kind not in needs_value and r.value is not None:
        return f"value: a {r.kind} reward takes no value"
    if r.kind == "percent_off" and r.value is not None and r.value > 100:
        return "value: a percent_off reward's value is a percentage from 1 to 100"
    if r.kind == "free_product" and r.product_id is None:
        return "product_id: a free_product reward needs the product's id"
    if r.kind != "free_product" and r.product_id is not None:
        return "product_id: only a free_product reward names a product"
    if r.kind != "points_to_money" and (r.min_points or r.max_points):
        return "min_points: only a points_to_money reward has min_points and max_points"
    for name in ("min_points", "max_points"):
        points = getattr(r, name)
        if points is not None and points % r.points_cost:
            return f"{name}: must be a multiple of points_cost ({r.points_cost})"
    if r.min_points and r.max_points and r.min_points > r.max_points:
        return "max_points: must be at least min_points"
    return None


class RewardPatch(BaseModel):
    """Any of the reward's fields; the result must be a valid reward."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255, pattern=_TEXT)
    kind: Kind | None = None
    points_cost: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    value: int | None = Field(default=None, ge=1, le=MAX_AMOUNT_MINOR)
    min_order_minor: int | None = Field(default=None, ge=1, le=MAX_AMOUNT_MINOR)
    product_id: str | None = Field(
        default=None, min_length=1, max_length=MAX_ID_LENGTH, pattern=_TEXT
    )
    code_valid_days: int | None = Field(default=None, ge=1, le=3650)
    min_points: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    max_points: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    active: bool | None = None


class RewardOut(BaseModel):
    id: int
    name: str
    kind: Kind
    points_cost: int
    value: int | None
    min_order_minor: int | None
    product_id: str | None
    code_valid_days: int | None
    min_points: int | None
    max_points: int | None
    active: bool
    created_at: datetime
    updated_at: datetime


class RewardsOut(BaseModel):
    rewards: list[RewardOut]


class RedemptionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reward_id": 1, "idempotency_key": "checkout-7f3a"}]},
    )

    reward_id: int = Field(ge=1, le=2**63 - 1)
    idempotency_key: str = Field(
        min_length=1,
        max_length=200,
        pattern=_TEXT,
        description="the same key again returns the same redemption",
    )
    points: int | None = Field(
        default=None,
        ge=1,
        le=MAX_POINTS,
        description="points_to_money only: how many points to turn into money (a multiple of "
        "the reward's points_cost; default its min_points, else one step)",
    )


class RedemptionOut(BaseModel):
    id: int
    reward_id: int
    status: Status
    points: int
    code: str | None = Field(description="the discount code, once the store has it")
    expires_at: datetime | None
    failure: str | None = Field(description="why the redemption failed, for the member")


class RedemptionsOut(BaseModel):
    customer_id: str
    redemptions: list[RedemptionOut]
