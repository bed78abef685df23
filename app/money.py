"""Money as integer minor units. Amounts from the platforms are decimal strings: parse them with
Decimal, never float."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# ISO 4217 minor-unit exponents that differ from 2. IRR is 2 in ISO 4217 but Iranian stores
# price in whole Rials (and WooCommerce's IRT in whole Tomans); a shop can override any code
# in its settings (``currency_exponents``).
_EXPONENTS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
    "IRR": 0,
    # WooCommerce's Toman: not an ISO 4217 code; whole Tomans, 1 Toman = 10 Rials.
    "IRT": 0,
}  # fmt: skip

# What a person calls a currency in a sentence, where the code is not what they say.
CURRENCY_NAMES: dict[str, str] = {"IRT": "Toman", "IRR": "Rial"}


# A plain ASCII amount such as "181.09" or "-5", the platforms' usual form, read without Decimal
# (larger or finer amounts take the Decimal path, which also bounds their size).
_PLAIN = re.compile(r"(-?)([0-9]{1,15})(?:\.([0-9]{1,4}))?")
_PLAIN_EXPONENTS = 4  # real currencies have 0 to 4; a shop's odd setting goes the Decimal way


class MoneyError(ValueError):
    """An amount that is not a decimal number."""


def currency_exponent(currency: str, overrides: Mapping[str, int] | None = None) -> int:
    code = currency.upper()
    if overrides and code in overrides:
        return overrides[code]
    return _EXPONENTS.get(code, 2)


def to_minor(amount: str | int | Decimal, exponent: int) -> int:
    """``"181.09"`` at exponent 2 → ``18109``. Finer amounts round half to even."""
    if (
        isinstance(amount, str)
        and 0 <= exponent <= _PLAIN_EXPONENTS
        and (plain := _PLAIN.fullmatch(amount)) is not None
    ):
        # No more decimals than the currency has: the digits themselves are the minor units,
        # exact, at a fifth of Decimal's cost (every amount of every order comes through here).
        sign, whole, fraction = plain.groups()
        if fraction is None or len(fraction) <= exponent:
            minor = int(whole + (fraction or "").ljust(exponent, "0"))
            return -minor if sign else minor
    if isinstance(amount, float):  # a float has already lost the exact value
        raise MoneyError(f"amount {amount!r} is a float; pass a decimal string")
    text = str(amount).strip()
    if "_" in text:  # Decimal accepts "1_000"; no platform sends that
        raise MoneyError(f"{amount!r} is not a decimal amount")
    try:
        value = Decimal(text)
        if not value.is_finite():
            raise MoneyError(f"{amount!r} is not a finite amount")
        return int(value.scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    except InvalidOperation as exc:  # not a number, or too large to hold exactly
        raise MoneyError(f"{amount!r} is not a usable decimal amount") from exc


def from_minor(minor: int, exponent: int) -> Decimal:
    return Decimal(minor).scaleb(-exponent)


# A Rial or Toman shop's choice of display: the code shown, and what one stored unit is in it.
_SHOWN_AS: dict[tuple[str, str], tuple[str, Decimal]] = {
    ("IRR", "toman"): ("IRT", Decimal("0.1")),
    ("IRT", "rial"): ("IRR", Decimal(10)),
}


def shown_as(
    minor: int, exponent: int, currency: str | None, display: str | None
) -> tuple[Decimal, int, str | None]:
    """An amount as a shop chose to show it: (amount, decimal places, currency code). Rials
    shown as Tomans divide by 10 exactly, so 12,345 Rials is 1,234.5 Tomans (one more place,
    never rounded); Tomans shown as Rials multiply by 10. Other currencies are as stored."""
    amount = from_minor(minor, exponent)
    found = _SHOWN_AS.get(((currency or "").upper(), display or ""))
    if found is None:
        return amount, exponent, currency
    code, factor = found
    places = exponent + 1 if factor < 1 and minor % 10 else exponent
    return amount * factor, places, code
