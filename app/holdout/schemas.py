from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class HoldoutIn(BaseModel):
    """The shop's holdout: the share of new customers kept out of the club (0 turns it off)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"share_percent": "10"}]},
    )

    share_percent: Decimal = Field(
        ge=0, le=50, decimal_places=2,
        description="per cent of new customers held out, 0 to 50, in steps of 0.01 (0: off)",
    )  # fmt: skip
    salt: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="what the customer ids are hashed with (8 to 64 letters, digits, - or _); "
        "kept as it is when not given (a random one is made the first time). A new salt "
        "places customers not seen yet differently; those already placed stay where they are.",
    )


class HoldoutOut(BaseModel):
    share_percent: Decimal
    enabled: bool
    salt: str | None
    started_at: datetime | None = Field(description="when the share was first above 0")
    customers: dict[str, int] = Field(
        description="customers placed, by cohort: holdout (now), member, enrolled (had points "
        "before the holdout saw them), released (left the holdout when the share shrank)"
    )
