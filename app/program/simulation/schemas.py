"""``POST /api/v1/program/simulate``: the draft in, the two replays out."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from app.program.document import ProgramDocument


class SimulateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    draft: ProgramDocument
    since: date | None = Field(
        default=None,
        description="replay the events received from this day on (00:00 UTC); "
        "absent: every stored event",
    )


class Outcome(BaseModel):
    """One replay: the shop's stored events processed under one program on a throwaway
    database."""

    points_issued: int = Field(description="points credited to members, net of the reversals")
    expected_redemptions: int = Field(
        description="points_issued × the live ledger's redemption rate, rounded down"
    )
    expected_expiry: int = Field(
        description="points_issued × the live ledger's expiry rate, rounded down"
    )
    points_outstanding: int = Field(
        description="points_issued − expected_redemptions − expected_expiry"
    )
    members_with_points: int
    point_value_minor: Decimal | None = Field(
        description="what one point is worth, in minor units of the currency"
    )
    point_value_source: Literal["document", "rewards"] | None = Field(
        description="the program's point_value_minor, else the highest value per point of "
        "the shop's active amount_off and points_to_money rewards"
    )
    liability_minor: int | None = Field(
        description="points_outstanding × point_value_minor, rounded half up"
    )
    currency: str | None
    revenue_minor: int = Field(
        description="merchandise of the paid orders replayed, less their refunds"
    )
    cost_share: Decimal | None = Field(description="liability_minor ÷ revenue_minor")
    members_per_tier: dict[str, int] | None = Field(
        default=None, description="only where this Vafa has tiers (absent otherwise)"
    )

    @model_serializer(mode="wrap")
    def _omit_absent_tiers(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("members_per_tier") is None:
            data.pop("members_per_tier", None)
        return data


class LedgerTotalsOut(BaseModel):
    """The live ledger as it stands (every event, not only those since ``since``)."""

    points_issued: int
    points_redeemed: int
    points_expired: int
    points_adjusted: int
    points_outstanding: int


class Assumptions(BaseModel):
    redemption_rate: Decimal = Field(
        description="points redeemed ÷ points issued, in the live ledger (0 without history)"
    )
    expiry_rate: Decimal = Field(description="points expired ÷ points issued, likewise")


class EventsReplayed(BaseModel):
    replayed: int
    by_status: dict[str, int] = Field(description="what processing made of them (the draft's)")


class SimulationOut(BaseModel):
    shop_id: int
    since: date | None
    replayed_at: datetime = Field(description="the time the replays processed the events at")
    events: EventsReplayed
    assumptions: Assumptions
    draft: Outcome
    live: Outcome = Field(description="the same replay under the shop's program versions")
    ledger: LedgerTotalsOut
    seconds: float = Field(description="how long the simulation took")
    replay_cpu_seconds: dict[str, float] = Field(
        description="processor time each replay's process used (draft, live): the two run at "
        "once, so on two idle cores the simulation takes about the larger"
    )
