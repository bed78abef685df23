"""A shop's program settings: one JSON object per shop until the full program engine arrives."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ProgramSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Points per whole unit of the shop's currency of merchandise after discounts.
    points_per_unit: Decimal = Field(default=Decimal(1), ge=0)
    # Days an earned point stays pending before it can be spent (0: available at once).
    hold_days: int = Field(default=0, ge=0, le=365)
    # May a refund or cancellation take a member's available balance below zero (a debt that
    # later earnings pay off)? If not, what cannot be clawed back is written off and recorded.
    allow_negative_balance: bool = True
    # Days after which an available lot of points expires (None: never).
    expiry_days: int | None = Field(default=None, ge=1, le=3650)
    # Minor-unit exponents that differ from ISO 4217, e.g. {"IRR": 0}.
    currency_exponents: dict[str, int] = Field(default_factory=dict)
    # The shop's currency (ISO 4217), for rewards' amounts (None: that of the shop's orders).
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    # Does a discount code that expires unused give its points back?
    refund_expired_codes: bool = True
    # Does a refund of an order that used a code give back its points, in proportion?
    refund_redeemed_points_on_refund: bool = True
    # How a Rial or Toman shop (IRR, IRT) shows amounts: "rial" or "toman" (None: as stored).
    # Only the display converts; amounts stay in the stored minor units.
    currency_display: Literal["rial", "toman"] | None = None
    # The widget's colour when the embed names none (None: the widget's own).
    widget_colour: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ProgramSettings:
        return cls.model_validate(data or {})

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
